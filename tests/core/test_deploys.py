"""Deploys through the manager's socket, without a model: what request_apply_commit refuses, a deploy
that cannot start and rolls back, and approvals that survive a kill -9 of the daemon mid-deploy."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperhive.client import RequestFailed
from tests.support.agents import harness_pids
from tests.support.configs import commit_agent_toml
from tests.support.hive import AgentConn, HiveProcess, accepts, wait_for

AGENT = """name = "alice"
description = "a test agent"
role = "agent"
model = "claude-sonnet-4-5"
allowed_recipients = []
{extra}
[restart]
delay_seconds = 0.2
max_restarts = 3
window_seconds = 60
stop_timeout_seconds = 5
"""


@pytest.fixture
def hive(short_tmp: Path) -> Iterator[HiveProcess]:
    proc = HiveProcess(short_tmp, env={"HYPERHIVE_MANAGER": "on"})
    proc.start()
    try:
        wait_for(lambda: accepts(proc.settings.agent_socket_dir("hm1nd") / "manager.sock"), timeout=30)
        proc.host.request("spawn", name="alice", config=AGENT.format(extra=""))
        yield proc
    finally:
        proc.host.request("stop", all=True)
        proc.stop()


def manager(hive: HiveProcess) -> AgentConn:
    return AgentConn(hive.settings.agent_socket_dir("hm1nd") / "manager.sock")


def commit(hive: HiveProcess, text: str, message: str = "change") -> str:
    return commit_agent_toml(hive.settings.state_dir, "alice", text, message)


def row(hive: HiveProcess) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=["alice"])["agent_statuses"][0])


def tags(hive: HiveProcess) -> set[str]:
    out = subprocess.run(["git", "-C", str(hive.settings.state_dir / "applied" / "alice"), "tag"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_bad_requests_are_refused_with_the_reason(hive: HiveProcess) -> None:
    with manager(hive) as hm1nd:
        for ref, words in (("main", "not a commit sha"), ("HEAD~1", "not a commit sha"), ("deadbee", "deadbee")):
            answer = hm1nd.request("request_apply_commit", agent="alice", commit_ref=ref)
            assert answer["ok"] is False and words in answer["error"], answer
        sha = commit(hive, AGENT.format(extra='colour = "blue"'))
        failed = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha[:10])["approval"]
        assert failed["status"] == "failed" and "colour" in failed["note"] and "unknown key" in failed["note"]
        assert hive.host.request("pending", status="pending")["approvals"] == []  # no card for the operator
        mail = hm1nd.request("recv", wait_seconds=5, max=32)["messages"]
        events = [json.loads(m["body"]) for m in mail if m["sender"] == "system"]
        assert any(e["event"] == "approval_resolved" and e["approval"]["status"] == "failed" for e in events)
    with AgentConn(hive.agent_socket("alice")) as alice:  # not the manager: the verb is refused
        refused = alice.request("request_apply_commit", agent="alice", commit_ref=sha)
        assert refused["ok"] is False and "manager" in refused["error"]


def test_a_deploy_that_cannot_start_is_rolled_back(hive: HiveProcess) -> None:
    before = row(hive)
    broken = commit(hive, AGENT.format(extra='[env]\nPYTHONHOME = "/nonexistent"'), "a broken python")
    with manager(hive) as hm1nd:
        approval = hm1nd.request("request_apply_commit", agent="alice", commit_ref=broken)["approval"]
        assert approval["status"] == "pending" and "PYTHONHOME" in approval["diff"]
    hive.host.request("approve", id=approval["id"])
    done = wait_for(lambda: (a := hive.host.request("show_approval", id=approval["id"])["approvals"][0])["done"]
                    and a, timeout=90)
    assert done["status"] == "failed" and "rolled back" in done["note"]
    assert f"failed/{approval['id']}" in tags(hive) and f"deployed/{approval['id']}" not in tags(hive)
    wait_for(lambda: row(hive)["state"] == "running", timeout=30)
    assert row(hive)["deployed_sha"] == before["deployed_sha"]


# A harness of the new config stops at interpreter start until the test lets it go: one 3-byte "go\n" read
# from a FIFO per harness start. So the deploy is held between `building/<id>` and the harness's hello.
GATE = """import os
os.read(os.open({fifo!r}, os.O_RDONLY), 3)
"""


def test_an_approval_survives_a_kill9_mid_deploy(hive: HiveProcess, short_tmp: Path) -> None:
    gate_dir = short_tmp / "gate"
    gate_dir.mkdir()
    fifo = gate_dir / "go"
    os.mkfifo(fifo)
    (gate_dir / "sitecustomize.py").write_text(GATE.format(fifo=str(fifo)))
    sha = commit(hive, AGENT.format(extra=f'[env]\nPYTHONPATH = "{gate_dir}"'))
    with manager(hive) as hm1nd:
        approval = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha)["approval"]
    hive.host.request("approve", id=approval["id"])
    # Mid-deploy, shown: building is tagged and the new config's harness is started but not yet connected.
    wait_for(lambda: f"building/{approval['id']}" in tags(hive) and gated_harnesses(hive, gate_dir), timeout=60)
    assert f"deployed/{approval['id']}" not in tags(hive)
    assert hive.host.request("show_approval", id=approval["id"])["approvals"][0]["done"] is False
    hive.kill9()
    hive.start()
    gate = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # never blocks; readers get one "go" each
    try:
        os.write(gate, b"go\n" * 20)
        done = wait_for(lambda: (a := hive.host.request("show_approval", id=approval["id"])["approvals"][0])["done"]
                        and a, timeout=90)
        # The approved work resumed on start and finished the deploy: nothing half-made is left in use.
        assert done["status"] == "approved", done
        assert f"deployed/{approval['id']}" in tags(hive)
        assert str(row(hive)["deployed_sha"]) == sha[:12] and row(hive)["state"] == "running"
        with pytest.raises(RequestFailed, match="already"):
            hive.host.request("approve", id=approval["id"])
    finally:
        os.close(gate)


def gated_harnesses(hive: HiveProcess, gate_dir: Path) -> list[int]:
    """Harnesses of alice started with the new config (their environment names the gate)."""
    found = []
    for pid in harness_pids("alice", hive.settings.state_dir):
        with contextlib.suppress(OSError):
            if f"PYTHONPATH={gate_dir}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found
