"""Stories with a real hive-c0re process: restarts and kill -9 lose nothing that was answered."""

from __future__ import annotations

import threading
from pathlib import Path

from hyperhive.client import RequestFailed, SocketClient, Unreachable
from tests.support.hive import AgentConn, HiveProcess


def test_unacked_message_is_redelivered_after_a_daemon_restart(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    sent = hive_proc.host.request("send", to="alice", body="survive")
    with AgentConn(hive_proc.agent_socket("alice")) as conn:
        assert conn.request("recv")["messages"][0]["id"] == sent["id"]
        hive_proc.stop()
    hive_proc.start()
    with AgentConn(hive_proc.agent_socket("alice")) as conn:
        again = conn.request("recv")["messages"]
        assert [m["id"] for m in again] == [sent["id"]]
        assert conn.request("ack", ids=[sent["id"]])["acked"] == [sent["id"]]
    hive_proc.stop()
    hive_proc.start()
    with AgentConn(hive_proc.agent_socket("alice")) as conn:
        assert conn.request("recv")["messages"] == []


def test_kill9_during_a_burst_loses_no_answered_send(short_tmp: Path) -> None:
    """Regression story for the durability promise: four senders hammer the daemon, it is killed
    with SIGKILL mid-burst, and every send that was answered ok is in the restarted daemon's store."""
    hive = HiveProcess(short_tmp)
    hive.start()
    try:
        for name in ("alice", "bob"):
            hive.host.request("register_peer", name=name)
        answered: list[int] = []
        cut: list[int] = []  # workers whose connection the kill cut mid-request
        progress = threading.Condition()
        started = threading.Barrier(5, timeout=30)

        def sender(worker: int) -> None:
            with AgentConn(hive.agent_socket("alice")) as conn:
                started.wait()
                for i in range(100_000):
                    try:
                        response = conn.request("send", to="bob", body=f"w{worker}-{i}")
                    except (OSError, AssertionError, ValueError):
                        with progress:
                            cut.append(worker)  # the daemon died mid-request: that send was never answered
                        return
                    assert response.get("ok"), response
                    with progress:
                        answered.append(response["id"])
                        progress.notify_all()

        threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        started.wait()
        with progress:  # let a few hundred sends land, then kill
            assert progress.wait_for(lambda: len(answered) >= 300, timeout=60), f"only {len(answered)} answered"
        hive.kill9()
        for thread in threads:
            thread.join(10)
            assert not thread.is_alive()
        # Every worker was still sending when the daemon died: the kill landed mid-burst, not after it.
        assert sorted(cut) == [0, 1, 2, 3]
        hive.start()
        stored: set[int] = set()
        with AgentConn(hive.agent_socket("bob")) as bob:
            while True:
                batch = bob.request("recv", max=32, ack=True)["messages"]
                if not batch:
                    break
                stored.update(m["id"] for m in batch)
        missing = set(answered) - stored
        assert not missing, f"{len(missing)} answered sends lost, e.g. {sorted(missing)[:5]}"
        assert len(set(answered)) == len(answered)  # one id per answered send
    finally:
        hive.stop()


def test_daemon_not_running_is_said_plainly(short_tmp: Path) -> None:
    client = SocketClient(short_tmp / "host.sock")
    try:
        client.request("ping")
    except Unreachable as exc:
        assert "not running" in exc.message
    else:
        raise AssertionError("no error without a daemon")


def test_second_daemon_on_the_same_socket_is_refused(hive_proc: HiveProcess) -> None:
    second = HiveProcess(hive_proc.root)
    second.log_path = hive_proc.root / "second.log"
    try:
        second.start(timeout=10)
    except RuntimeError as exc:
        assert "in use by another process" in str(exc)
        # refused before it opened anything: no store, no leader's lease, no agent rows of the running hive
        assert "leads the hive" not in str(exc), str(exc)
    else:
        raise AssertionError("a second daemon started on the same socket")
    assert hive_proc.host.request("ping")["pong"] is True


def test_errors_survive_the_roundtrip(hive_proc: HiveProcess) -> None:
    try:
        hive_proc.host.request("set_paused", name="ghost", paused=True)
    except RequestFailed as exc:
        assert exc.code == "not_found"
    else:
        raise AssertionError("no error for a missing agent")
