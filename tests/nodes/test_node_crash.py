"""kill -9 of a node with mail in flight, on PostgreSQL with two node processes: nothing accepted is lost
and nothing is delivered twice once the node is back. The receiving node dies with a message in its agent's
hand (delivered, not acked); the sending node dies with sends half-way (some answered, some not)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tests.support.hive import AgentConn, HiveProcess
from tests.support.nodes import node_process, reload_registries, started
from tests.support.postgres import PostgresServer

SENDERS = 4


def two_nodes(root: Path, server: PostgresServer) -> tuple[HiveProcess, HiveProcess]:
    database = server.new_database()
    return node_process(root, "n1", database), node_process(root, "n2", database)


def register(n1: HiveProcess, n2: HiveProcess) -> None:
    n1.host.request("register_peer", name="alice")
    n2.host.request("register_peer", name="bob")
    reload_registries(n1, n2)


def drain(node: HiveProcess, name: str) -> list[dict[str, Any]]:
    """Everything pending for `name`, read and acked in batches until nothing is left."""
    got: list[dict[str, Any]] = []
    with AgentConn(node.agent_socket(name)) as conn:
        while True:
            answer = conn.request("recv", max=32, ack=True)
            got += answer["messages"]
            if not answer["messages"] and answer["pending"] == 0:
                return got


def test_the_receiving_node_dies_with_a_message_in_hand(short_tmp: Path, postgres_server: PostgresServer) -> None:
    n1, n2 = two_nodes(short_tmp, postgres_server)
    with started(n1, n2):
        register(n1, n2)
        with AgentConn(n1.agent_socket("alice")) as alice:
            first = alice.request("send", to="bob", body="in bob's hand when n2 dies")
            with AgentConn(n2.agent_socket("bob")) as bob:
                held = bob.request("recv", wait_seconds=30)["messages"]  # delivered, not acked
                assert [m["id"] for m in held] == [first["id"]]
                n2.kill9()
            second = alice.request("send", to="bob", body="sent while n2 is down")  # accepted: n2 not needed
        n2.start()
        got = drain(n2, "bob")
        assert [(m["id"], m["body"]) for m in got] == [(first["id"], "in bob's hand when n2 dies"),
                                                      (second["id"], "sent while n2 is down")]
        to_bob = [m for m in n1.host.request("recent", limit=50)["messages"] if m["recipient"] == "bob"]
        assert sorted(m["id"] for m in to_bob) == [first["id"], second["id"]]  # one row each
        assert all(m["acked_at"] for m in to_bob)


def test_the_sending_node_dies_with_sends_in_flight(short_tmp: Path, postgres_server: PostgresServer) -> None:
    n1, n2 = two_nodes(short_tmp, postgres_server)
    with started(n1, n2):
        register(n1, n2)
        answered: dict[str, int] = {}  # body -> id, for every send n1 answered
        lock, enough = threading.Lock(), threading.Event()

        def sender(k: int) -> None:
            with AgentConn(n1.agent_socket("alice")) as alice:
                for i in range(10_000):
                    body = f"s{k}-{i}"
                    try:
                        sent = alice.request("send", to="bob", body=body)
                    except (AssertionError, OSError, ValueError):  # n1 died mid-request: no answer
                        return
                    with lock:
                        answered[body] = sent["id"]
                        if len(answered) >= 60:
                            enough.set()

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(SENDERS)]
        for thread in threads:
            thread.start()
        assert enough.wait(60), "the senders did not get going"
        n1.kill9()  # each sender has a request on the wire or about to be
        for thread in threads:
            thread.join(30)
        n1.start()
        got = drain(n2, "bob")
        bodies = [m["body"] for m in got]
        assert len(bodies) == len(set(bodies)), "a message was stored or delivered twice"
        received = {m["body"]: m["id"] for m in got}
        assert {b: received.get(b) for b in answered} == answered, "an answered send was lost"
        unanswered = set(received) - set(answered)  # committed as n1 died, its answer never written
        assert len(unanswered) <= SENDERS
        for k in range(SENDERS):  # per-sender order held, and only a sender's last send can lack an answer
            mine = [int(m["body"].split("-")[1]) for m in got if m["body"].startswith(f"s{k}-")]
            assert mine == list(range(len(mine)))
            assert all(int(b.split("-")[1]) == len(mine) - 1 for b in unanswered if b.startswith(f"s{k}-"))
        assert drain(n2, "bob") == []
