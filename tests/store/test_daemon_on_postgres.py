"""hive-c0re with its state in PostgreSQL (`--database`, here through HYPERHIVE_DATABASE): the broker's
promises hold on the shared store, and a database restart costs requests an `unavailable` answer while
it is down, never the daemon."""

from __future__ import annotations

from pathlib import Path

from hyperhive.client import RequestFailed
from tests.support.hive import AgentConn, HiveProcess
from tests.support.postgres import PostgresServer


def test_a_daemon_on_postgres_keeps_mail_across_a_kill9(short_tmp: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    hive = HiveProcess(short_tmp, env={"HYPERHIVE_DATABASE": url, "HYPERHIVE_NODE": "n1"})
    hive.start()
    try:
        hive.host.request("register_peer", name="alice")
        sent = hive.host.request("send", to="alice", body="kept in postgres")
        hive.kill9()
        assert not (hive.settings.state_dir / "hive.db").exists()  # the state is in the database, not a file
        hive.start()
        with AgentConn(hive.agent_socket("alice")) as conn:
            got = conn.request("recv")["messages"]
            assert [(m["id"], m["body"]) for m in got] == [(sent["id"], "kept in postgres")]
            assert conn.request("ack", ids=[sent["id"]])["acked"] == [sent["id"]]
        assert [a for a in hive.host.request("list")["agents"]] == ["alice"]
    finally:
        hive.stop()


def test_a_database_restart_is_survived(short_tmp: Path, postgres_server: PostgresServer) -> None:
    hive = HiveProcess(short_tmp, env={"HYPERHIVE_DATABASE": postgres_server.new_database()})
    hive.start()
    try:
        hive.host.request("register_peer", name="bob")
        postgres_server.stop_server()
        try:
            hive.host.request("send", to="bob", body="while the database is down")
        except RequestFailed as exc:
            assert exc.code == "unavailable" and "database" in str(exc)
        else:
            raise AssertionError("a send with the database down was answered ok")
        postgres_server.start_server()
        after = hive.host.request("send", to="bob", body="after the restart")  # the pool reconnected
        assert hive.proc is not None and hive.proc.poll() is None  # the daemon never exited
        with AgentConn(hive.agent_socket("bob")) as conn:
            assert [m["id"] for m in conn.request("recv")["messages"]] == [after["id"]]
    finally:
        hive.stop()
