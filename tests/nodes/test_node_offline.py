"""A node that dies: the other nodes show its agents `node_offline` once its heartbeats lapse (at once when it
stops cleanly); mail for them is accepted meanwhile, waits, and is handled exactly once when it is back —
including a message its agent had in hand, unacked, when the node was killed."""

from __future__ import annotations

import time

from tests.core.test_hivectl import hivectl
from tests.support.hive import AgentConn, wait_for

from .conftest import NODE_TIMEOUT, MakeNode, knows, row


def test_mail_for_an_agent_whose_node_died_waits_and_is_handled_once(cluster: MakeNode) -> None:
    n1, n2 = cluster("n1"), cluster("n2")
    n2.host.request("register_peer", name="bob")
    wait_for(lambda: knows(n1, "bob"))  # pushed to n1 (hive_agents), no restart
    assert (row(n1, "bob")["node"], row(n1, "bob")["node_offline"]) == ("n2", False)

    first = n1.host.request("send", to="bob", body="in hand when n2 dies")["id"]
    with AgentConn(n2.agent_socket("bob")) as bob:
        assert [m["id"] for m in bob.request("recv", wait_seconds=10)["messages"]] == [first]
        n2.kill9()  # bob's message is delivered, not acked

    began = time.monotonic()
    wait_for(lambda: row(n1, "bob")["state"] == "node_offline", timeout=NODE_TIMEOUT * 4)
    assert time.monotonic() - began < NODE_TIMEOUT * 2  # within one timeout of its last beat (plus load)
    assert row(n1, "bob")["node_offline"] is True and row(n1, "bob")["running"] is False
    second = n1.host.request("send", to="bob", body="sent while n2 is down")["id"]  # accepted, durable
    assert row(n1, "bob")["unread"] == 2

    n2.start()
    wait_for(lambda: row(n1, "bob")["node_offline"] is False, timeout=NODE_TIMEOUT * 4)
    with AgentConn(n2.agent_socket("bob")) as bob:
        got = bob.request("recv", wait_seconds=10)["messages"]
        assert [m["id"] for m in got] == [first, second]  # the unacked one again, then the waiting one, in order
        assert bob.request("ack", ids=[first, second])["acked"] == [first, second]
        assert bob.request("ack", ids=[first, second])["acked"] == []  # handled once: nothing to ack twice
        assert bob.request("recv", wait_seconds=0)["messages"] == []
    assert row(n1, "bob")["unread"] == 0


def test_a_clean_stop_shows_node_offline_at_once(cluster: MakeNode) -> None:
    """With a minute-long timeout, only the stopping node's own word can explain a prompt node_offline."""
    n1, n2 = cluster("n1", timeout=60), cluster("n2", timeout=60)
    n2.host.request("register_peer", name="bob")
    wait_for(lambda: knows(n1, "bob"))
    assert row(n1, "bob")["node_offline"] is False
    n2.stop()
    wait_for(lambda: row(n1, "bob")["node_offline"] is True, timeout=10)
    n2.start()
    wait_for(lambda: row(n1, "bob")["node_offline"] is False, timeout=10)


def test_hivectl_status_on_either_node_lists_both_nodes_agents(cluster: MakeNode) -> None:
    n1, n2 = cluster("n1"), cluster("n2")
    n1.host.request("register_peer", name="amy")
    n2.host.request("register_peer", name="bob")
    for node in (n1, n2):
        wait_for(lambda node=node: knows(node, "amy") and knows(node, "bob"))  # type: ignore[misc]
        out = hivectl(node, "status").stdout
        lines = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
        assert "n1" in lines["amy"] and "n2" in lines["bob"], out  # the node column
    n2.kill9()
    wait_for(lambda: row(n1, "bob")["node_offline"] is True, timeout=NODE_TIMEOUT * 4)
    out = hivectl(n1, "status").stdout
    assert "node_offline" in next(line for line in out.splitlines() if line.startswith("bob")), out
