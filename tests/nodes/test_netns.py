"""Nodes in separate network namespaces, each a `hive-c0re` process with its own state and runtime dirs,
reaching the one PostgreSQL database only over its own veth pair: nothing but the database joins them.
Mail crosses between them; cutting the leader's link moves the leader lease to the other node within a
bounded time (the lease runs out on the database's clock; the cut-off node's renewal fails, so it stops
leading), and mail sent to the cut-off node meanwhile is waiting for it when the link is back."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hyperhive.core.leadership import LEASE_SECONDS
from hyperhive.store._pg_db import CONNECT_OPTIONS
from tests.support.hive import AgentConn, HiveProcess, wait_for
from tests.support.nodes import (
    Namespace,
    ReachablePostgres,
    lease_holder,
    network_namespaces,
    node_process,
    postgres_for,
    reload_registries,
    require_netns,
    started,
)

# The cut-off leader notices at its next renewal (a third of the lease), when the pool gives up on a
# connection (5 s) or the kernel on an unacknowledged send (tcp_user_timeout).
NOTICE_BOUND = LEASE_SECONDS / 3 + CONNECT_OPTIONS["tcp_user_timeout"] / 1000 + 5
# Another node leads once the lease, renewed at the latest just before the cut, runs out on the database's
# clock and that node renews next (every third of the lease); plus room for a loaded machine.
TAKEOVER_BOUND = LEASE_SECONDS + LEASE_SECONDS / 3 + 5


class World:
    def __init__(self, root: Path, spaces: dict[str, Namespace], server: ReachablePostgres) -> None:
        self.spaces = spaces
        self.server = server
        self.database = server.new_database()  # as the test (on the host) reaches it: loopback
        self.nodes = {name: node_process(root, name, server.url_from(space, self.database), netns=space.name)
                      for name, space in spaces.items()}


@pytest.fixture
def world(short_tmp: Path) -> Iterator[World]:
    with network_namespaces(["n1", "n2"]) as spaces, postgres_for(list(spaces.values())) as server:
        yield World(short_tmp, spaces, server)


def statuses(node: HiveProcess) -> dict[str, str | None]:
    return {row["name"]: row["node"] for row in node.host.request("agent_status")["agent_statuses"]}


def test_mail_crosses_between_nodes_that_share_only_the_database(world: World) -> None:
    n1, n2 = world.nodes["n1"], world.nodes["n2"]
    # Isolation first: inside a node's namespace the host's loopback (where the database also listens) is
    # out of reach, so the only way to the database is the veth.
    probe = f"import socket; socket.create_connection(('127.0.0.1', {world.server.port}), timeout=2)"
    assert world.spaces["n1"].exec("python3", "-c", probe).returncode != 0
    with started(n1, n2):
        n1.host.request("register_peer", name="alice")
        n2.host.request("register_peer", name="bob")
        reload_registries(n1, n2)
        assert statuses(n1) == statuses(n2) == {"alice": "n1", "bob": "n2"}
        assert n1.root != n2.root and not (n1.settings.state_dir / "hive.db").exists()

        from_operator = n1.host.request("send", to="bob", body="from the operator on n1")
        with AgentConn(n1.agent_socket("alice")) as alice, AgentConn(n2.agent_socket("bob")) as bob:
            from_alice = alice.request("send", to="bob", body="from alice on n1")
            got = bob.request("recv", wait_seconds=30, ack=True)["messages"]
            assert [(m["id"], m["sender"], m["body"]) for m in got] == [
                (from_operator["id"], "operator", "from the operator on n1"),
                (from_alice["id"], "alice", "from alice on n1")]
            # The other way, with alice already waiting on n1: n2's commit wakes her through n1's listener.
            alice.send_raw(b'{"cmd": "recv", "wait_seconds": 30, "ack": true}\n')
            reply = bob.request("send", to="alice", body="hello back from n2")
            assert [(m["id"], m["body"]) for m in alice.read()["messages"]] == [(reply["id"], "hello back from n2")]


def test_cutting_the_leaders_link_moves_the_lease_and_its_mail_waits(world: World) -> None:
    n1, n2 = world.nodes["n1"], world.nodes["n2"]
    with started(n1, n2):
        holder = lease_holder(world.database)
        assert holder is not None and holder[0] == "n1"  # the first node up leads
        n1.host.request("register_peer", name="alice")
        reload_registries(n2)  # n2 learns of alice; n1 keeps leading (a clean restart of n2 only)
        assert lease_holder(world.database) == holder

        world.spaces["n1"].cut()
        cut_at = time.monotonic()
        try:
            while_cut = n2.host.request("send", to="alice", body="sent while n1 was cut off")
            new_holder = wait_for(lambda: (lease_holder(world.database) or ("", 0))[0] == "n2"
                                  and lease_holder(world.database), timeout=TAKEOVER_BOUND, interval=0.2)
            assert new_holder == ("n2", holder[1] + 1)
            took = time.monotonic() - cut_at
            print(f"the leader lease moved to n2 {took:.1f} s after the cut")
            assert took <= TAKEOVER_BOUND
            # The cut-off node stopped leading on its own, and kept running.
            wait_for(lambda: "node n1 no longer leads" in n1.log_text(), timeout=NOTICE_BOUND, interval=0.2)
            assert n1.proc is not None and n1.proc.poll() is None
        finally:
            world.spaces["n1"].mend()
        with AgentConn(n1.agent_socket("alice")) as alice:  # the mail sent meanwhile is there, once
            got = alice.request("recv", wait_seconds=30, ack=True)["messages"]
            assert [(m["id"], m["body"]) for m in got] == [(while_cut["id"], "sent while n1 was cut off")]
            assert alice.request("recv")["messages"] == []
        assert lease_holder(world.database) == new_holder  # n1 back does not take the lease back


HOLD_LEASE_ROW = """
import sys, psycopg
from hyperhive.store._pg_db import CONNECT_OPTIONS
conn = psycopg.connect(sys.argv[1], **CONNECT_OPTIONS)  # as a node connects; not autocommit: a transaction
conn.execute("UPDATE leases SET expires_at = expires_at WHERE name = 'leader'")
print("locked", flush=True)
sys.stdin.read()
"""
# The server drops a session whose client vanished once its keepalive probes go unanswered (idle + interval
# x count) or an unacknowledged send times out (tcp_user_timeout); plus room for a loaded machine.
DROP_BOUND = 5 + 2 * 3 + 10


def test_a_session_cut_off_mid_transaction_does_not_keep_the_lease_locked(world: World) -> None:
    """A node cut off between its lease UPDATE and COMMIT leaves the server a half-open session holding the
    row lock: the connection settings make the server drop it, so the lease stays with the live nodes."""
    n2 = world.nodes["n2"]
    with started(n2):
        assert lease_holder(world.database) == ("n2", 1)
        n1 = world.spaces["n1"]
        with subprocess.Popen(["ip", "netns", "exec", n1.name, sys.executable, "-c", HOLD_LEASE_ROW,
                               world.server.url_from(n1, world.database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
            try:
                assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
                n1.cut()
                started_at = time.monotonic()
                with psycopg.connect(world.database, autocommit=True) as conn:
                    conn.execute(f"SET lock_timeout = '{DROP_BOUND}s'")
                    conn.execute("UPDATE leases SET expires_at = expires_at WHERE name = 'leader'")  # waits
                print(f"the server dropped the cut-off session after {time.monotonic() - started_at:.1f} s")
                assert time.monotonic() - started_at <= DROP_BOUND
                wait_for(lambda: lease_holder(world.database) == ("n2", 1), timeout=LEASE_SECONDS)
            finally:
                holder.kill()


def test_without_ip_ci_fails_naming_iproute2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match=r"CI=true but iproute2 \(`ip`\) is missing"):
        require_netns()
