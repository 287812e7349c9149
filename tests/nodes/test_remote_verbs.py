"""A lifecycle verb for an agent on another node is carried out by that node, told through the database: the
caller answers with that node's result (its error too), or "node n2 is offline" — at once when n2 is known to
be down, after a bounded wait when n2 does not claim the command; a withdrawn command is never run later."""

from __future__ import annotations

import os
import signal
import time

import pytest

from hyperhive.client import RequestFailed
from tests.core.test_lifecycle import FAST_RESTART
from tests.support.agents import harness_pids
from tests.support.hive import HiveProcess, wait_for

from .conftest import NODE_TIMEOUT, MakeNode, knows, row


def spawn_on(node: HiveProcess, name: str) -> None:
    node.host.request("spawn", name=name, config=FAST_RESTART.format(name=name))


def test_a_verb_on_another_nodes_agent_is_done_by_its_node(cluster: MakeNode) -> None:
    n1, n2 = cluster("n1"), cluster("n2")
    spawn_on(n2, "alice")
    wait_for(lambda: knows(n1, "alice") and row(n1, "alice")["state"] == "running")  # n2's supervisor's view
    (pid,) = wait_for(lambda: harness_pids("alice", n2.settings.state_dir))

    stopped = n1.host.request("stop", name="alice")["agent_statuses"][0]
    assert (stopped["state"], stopped["node"]) == ("stopped", "n2")  # n2's result, in n1's answer
    assert row(n2, "alice")["state"] == "stopped"
    wait_for(lambda: not harness_pids("alice", n2.settings.state_dir))  # n2's sandbox really ended
    assert not harness_pids("alice", n1.settings.state_dir)  # and n1 never ran one

    started = n1.host.request("start", name="alice")["agent_statuses"][0]
    assert started["state"] == "running"
    assert [p for p in wait_for(lambda: harness_pids("alice", n2.settings.state_dir)) if p != pid]

    with pytest.raises(RequestFailed) as refused:  # n2's own refusal, word for word
        n1.host.request("revive", name="alice")
    assert (refused.value.code, refused.value.message) == ("conflict", "alice is not destroyed")


def test_a_verb_for_an_offline_node_is_refused_and_never_run_later(cluster: MakeNode) -> None:
    n1, n2 = cluster("n1"), cluster("n2")
    spawn_on(n2, "alice")
    wait_for(lambda: knows(n1, "alice") and row(n1, "alice")["state"] == "running")
    (pid,) = wait_for(lambda: harness_pids("alice", n2.settings.state_dir))

    assert n2.proc is not None
    os.kill(n2.proc.pid, signal.SIGSTOP)  # n2 hangs: its beats stop, it claims nothing
    try:
        began = time.monotonic()
        with pytest.raises(RequestFailed) as refused:
            n1.host.request("stop", name="alice")
        waited = time.monotonic() - began
        assert refused.value.code == "unavailable" and refused.value.message.startswith("node n2 is offline")
        assert waited < NODE_TIMEOUT * 3  # bounded: one claim window (plus load)
        with pytest.raises(RequestFailed) as at_once:  # known offline now: no wait at all
            n1.host.request("restart", name="alice")
        assert at_once.value.message.startswith("node n2 is offline")
        assert row(n1, "alice")["state"] == "node_offline"
    finally:
        os.kill(n2.proc.pid, signal.SIGCONT)
    wait_for(lambda: row(n1, "alice")["node_offline"] is False, timeout=NODE_TIMEOUT * 4)
    # A verb that reaches n2 now is claimed after anything older still pending for it, and n2 runs an agent's
    # verbs in order: had the withdrawn stop been run, alice would have a new sandbox after this start.
    assert n1.host.request("start", name="alice")["agent_statuses"][0]["state"] == "running"
    assert harness_pids("alice", n2.settings.state_dir) == [pid]  # the same sandbox: never stopped
