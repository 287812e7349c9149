"""A NOTIFY missed while a node's listener was away: the listener's backend is ended
(pg_terminate_backend) and kept from coming back while mail is committed, so no listener hears its
notification; once it can reconnect it LISTENs, catches up, and the blocked `recv` gets the mail. Then a
restart of the PostgreSQL server: the nodes reconnect, the mail sent after it arrives, no daemon exits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.hive import AgentConn, HiveProcess, wait_for
from tests.support.nodes import node_process, reload_registries, started
from tests.support.postgres import PostgresServer

LISTENERS = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN %%'"


@contextlib.contextmanager
def refusing_new_connections(server: PostgresServer, database: str) -> Iterator[None]:
    """New sessions to `database` are rejected (pg_hba, first match wins), open ones carry on."""
    hba = server.data / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"local {database} all reject\nhost {database} all 127.0.0.1/32 reject\n{original}")
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    wait_for(lambda: not accepts_sessions(server.url(database)))  # the reload is asynchronous
    try:
        yield
    finally:
        hba.write_text(original)
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")


def accepts_sessions(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=5).close()
        return True
    except psycopg.OperationalError:
        return False


def listener_pids(server: PostgresServer, database: str) -> list[int]:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        return [row[0] for row in conn.execute(LISTENERS, (database,)).fetchall()]


def two_nodes(root: Path, server: PostgresServer) -> tuple[str, HiveProcess, HiveProcess]:
    url = server.new_database()
    return url.rsplit("/", 1)[1], node_process(root, "n1", url), node_process(root, "n2", url)


def test_mail_whose_notify_was_missed_is_delivered(short_tmp: Path, postgres_server: PostgresServer) -> None:
    database, n1, n2 = two_nodes(short_tmp, postgres_server)
    with started(n1, n2):
        n2.host.request("register_peer", name="bob")
        reload_registries(n1)
        wait_for(lambda: len(listener_pids(postgres_server, database)) == 2)
        with AgentConn(n2.agent_socket("bob")) as bob:
            bob.send_raw(b'{"cmd": "recv", "wait_seconds": 60, "ack": true}\n')  # parked on n2
            with refusing_new_connections(postgres_server, database):
                with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
                    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND query LIKE 'LISTEN %%'", (database,))
                wait_for(lambda: listener_pids(postgres_server, database) == [])
                sent = n1.host.request("send", to="bob", body="sent while no node listened")  # n1's open pool
                assert listener_pids(postgres_server, database) == []  # its NOTIFY reached no one
            got = bob.read()["messages"]  # the listener is back: LISTEN, then catch up
            assert [(m["id"], m["body"]) for m in got] == [(sent["id"], "sent while no node listened")]
        for node in (n1, n2):
            assert node.proc is not None and node.proc.poll() is None


def test_a_database_restart_loses_no_mail_and_no_node(short_tmp: Path, postgres_server: PostgresServer) -> None:
    _, n1, n2 = two_nodes(short_tmp, postgres_server)
    with started(n1, n2):
        n2.host.request("register_peer", name="bob")
        reload_registries(n1)
        before = n1.host.request("send", to="bob", body="before the restart")
        with AgentConn(n2.agent_socket("bob")) as bob:
            assert [m["id"] for m in bob.request("recv", ack=True)["messages"]] == [before["id"]]
            bob.send_raw(b'{"cmd": "recv", "wait_seconds": 60, "ack": true}\n')
            postgres_server.stop_server()  # immediate: every session cut, as a crash would
            postgres_server.start_server()
            after = n1.host.request("send", to="bob", body="after the restart")  # the pool reconnects
            answer = bob.read()
            if not answer["ok"]:  # woken by the catch-up while its node's pool was still reconnecting
                assert answer["code"] == "unavailable", answer
                answer = bob.request("recv", wait_seconds=60, ack=True)  # as a harness retries
            got = answer["messages"]
            assert [(m["id"], m["body"]) for m in got] == [(after["id"], "after the restart")]
        for node in (n1, n2):
            assert node.proc is not None and node.proc.poll() is None
