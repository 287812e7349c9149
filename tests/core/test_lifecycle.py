"""Managed agents' lifecycle with real processes: spawn, crash and restart, a daemon kill -9 the agents
outlive, stop, destroy and revive. The `process` runtime keeps these fast; tests/runtime covers bwrap."""

from __future__ import annotations

import json
import os
import signal

import pytest

from hyperhive.client import RequestFailed
from tests.support.agents import harness_pids
from tests.support.hive import HiveProcess, wait_for

FAST_RESTART = """name = "{name}"
description = "a test agent"
role = "agent"
model = "claude-sonnet-4-5"
allowed_recipients = []
[restart]
policy = "on-failure"
delay_seconds = 0.2
max_restarts = 2
window_seconds = 60
stop_timeout_seconds = 5
"""


def row(hive: HiveProcess, name: str) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=[name])["agent_statuses"][0])


def spawn(hive: HiveProcess, name: str) -> None:
    hive.host.request("spawn", name=name, config=FAST_RESTART.format(name=name))


def operator_events(hive: HiveProcess, kind: str) -> list[dict[str, object]]:
    messages = hive.host.request("inbox", limit=100)["messages"]
    events = [json.loads(m["body"]) for m in messages if m["sender"] == "system"]
    return [e for e in events if e["event"] == kind]


def test_spawn_crash_restart_and_stop(hive_proc: HiveProcess) -> None:
    spawn(hive_proc, "alice")
    status = row(hive_proc, "alice")
    assert (status["state"], status["kind"], status["isolated"]) == ("running", "managed", False)
    assert status["deployed_sha"] is not None
    state = hive_proc.settings.state_dir
    (pid,) = wait_for(lambda: harness_pids("alice", state))
    wait_for(lambda: row(hive_proc, "alice")["activity"] == "idle")  # its harness connected
    os.kill(pid, signal.SIGKILL)
    crash = wait_for(lambda: operator_events(hive_proc, "container_crash"))[0]
    assert crash["agent"] == "alice" and crash["signal"] == signal.SIGKILL and "killed by SIGKILL" in crash["exit"]
    new = wait_for(lambda: [p for p in harness_pids("alice", state) if p != pid])
    wait_for(lambda: row(hive_proc, "alice")["state"] == "running")
    hive_proc.host.request("stop", name="alice")
    assert row(hive_proc, "alice")["state"] == "stopped"
    wait_for(lambda: not harness_pids("alice", state))
    assert new


def test_agents_outlive_a_daemon_kill9_and_are_readopted(hive_proc: HiveProcess) -> None:
    spawn(hive_proc, "alice")
    spawn(hive_proc, "bob")
    state = hive_proc.settings.state_dir
    (alice_pid,) = wait_for(lambda: harness_pids("alice", state))
    (bob_pid,) = wait_for(lambda: harness_pids("bob", state))
    hive_proc.kill9()
    os.kill(bob_pid, signal.SIGKILL)  # dies while no daemon watches
    wait_for(lambda: not harness_pids("bob", state))
    assert harness_pids("alice", state) == [alice_pid]  # still working
    hive_proc.start()
    assert row(hive_proc, "alice")["state"] == "running"
    assert harness_pids("alice", state) == [alice_pid]  # adopted, not restarted: no duplicate
    crash = wait_for(lambda: [e for e in operator_events(hive_proc, "container_crash") if e["agent"] == "bob"])[0]
    assert crash["while_daemon_was_down"] is True
    wait_for(lambda: row(hive_proc, "bob")["state"] == "running")  # restarted per its policy
    hive_proc.host.request("stop", all=True)
    wait_for(lambda: not harness_pids("alice", state) and not harness_pids("bob", state))


def test_scopes_peers_and_tombstones(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="pat")
    with pytest.raises(RequestFailed, match="the hive does not own its lifecycle"):
        hive_proc.host.request("restart", name="pat")
    with pytest.raises(RequestFailed, match="the scope is empty"):
        hive_proc.host.request("stop")
    spawn(hive_proc, "alice")
    state_dir = hive_proc.settings.state_dir / "agents" / "alice" / "state"
    (state_dir / "notes.md").write_text("remember me")
    hive_proc.host.request("destroy", name="alice")
    assert row(hive_proc, "alice")["state"] == "destroyed"
    assert (state_dir / "notes.md").read_text() == "remember me"  # the tombstone keeps its home
    assert not hive_proc.agent_socket("alice").exists()
    with pytest.raises(RequestFailed, match="destroyed; revive it first"):
        hive_proc.host.request("start", name="alice")
    hive_proc.host.request("revive", name="alice")
    assert row(hive_proc, "alice")["state"] == "running"
    hive_proc.host.request("destroy", name="alice", purge=True)
    assert "alice" not in hive_proc.host.request("list")["agents"]
    assert not state_dir.exists()
    wait_for(lambda: not harness_pids("alice", hive_proc.settings.state_dir))
