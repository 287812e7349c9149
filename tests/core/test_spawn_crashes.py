"""A real hive-c0re SIGKILLed at every step of an approved spawn and of a config proposal (issue 13,
defect 2): `HYPERHIVE_CRASH_AT=<step>` makes the daemon kill itself exactly there (hyperhive.faults), so
each step is hit every run. After a restart the approval ends deployed (or cleanly failed), never in an
assert, and the name is usable."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperhive.client import RequestFailed, Unreachable
from hyperhive.faults import CRASH_AT
from tests.support.configs import commit_agent_toml
from tests.support.hive import AgentConn, HiveProcess, wait_for

SPAWN_STEPS = ("seed.built", "seed.renamed", "spawn.seeded", "spawn.fetched", "spawn.recorded", "deploy.approved",
               "deploy.building", "deploy.started", "deploy.confirmed", "deploy.deployed")
PROPOSE_STEPS = ("propose.fetched", "propose.validated", "propose.shown")


@pytest.fixture(scope="module")
def hive() -> Iterator[HiveProcess]:
    root = Path(tempfile.mkdtemp(prefix="hh-", dir="/tmp"))  # short: socket paths
    proc = HiveProcess(root, env={"HYPERHIVE_MANAGER": "on"})
    proc.start()
    try:
        wait_for(lambda: manager_sock(proc).exists(), timeout=30)
        yield proc
    finally:
        if proc.proc is None:
            proc.start()
        proc.host.request("stop", all=True)
        proc.stop()
        shutil.rmtree(root, ignore_errors=True)


def manager_sock(hive: HiveProcess) -> Path:
    return hive.settings.agent_socket_dir("hm1nd") / "manager.sock"


def crash_at(hive: HiveProcess, step: str, action: Any) -> None:
    """Restart the daemon armed at `step`, run `action`, and see the daemon die there by SIGKILL."""
    hive.stop()
    hive.env[CRASH_AT] = step
    hive.start()
    with contextlib.suppress(RequestFailed, Unreachable, OSError, AssertionError):
        action()  # the daemon dies under the request, or right after answering it
    assert hive.proc is not None
    assert hive.proc.wait(60) == -9, f"the daemon did not die at {step}"
    hive.proc = None
    del hive.env[CRASH_AT]
    hive.start()


def approval(hive: HiveProcess, approval_id: int) -> dict[str, Any]:
    return dict(hive.host.request("show_approval", id=approval_id)["approvals"][0])


def finished(hive: HiveProcess, approval_id: int) -> dict[str, Any]:
    return dict(wait_for(lambda: (a := approval(hive, approval_id))["done"] and a, timeout=90))


def tags(hive: HiveProcess, name: str) -> set[str]:
    out = subprocess.run(["git", "-C", str(hive.settings.state_dir / "applied" / name), "tag"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def request(sock: Path, cmd: str, **fields: Any) -> dict[str, Any]:
    with AgentConn(sock) as conn:
        answer = conn.request(cmd, **fields)
    assert answer["ok"], answer
    return answer


def deployed_and_running(hive: HiveProcess, name: str, approval_id: int) -> None:
    done = finished(hive, approval_id)
    assert done["status"] == "approved", done
    assert f"deployed/{approval_id}" in tags(hive, name)
    wait_for(lambda: hive.host.request("agent_status", names=[name])["agent_statuses"][0]["state"] == "running",
             timeout=30)
    assert not list((hive.settings.state_dir / "configs").glob(".seed-*")), "a half-made seed was left"


@pytest.mark.parametrize("step", SPAWN_STEPS)
def test_an_approved_spawn_survives_a_kill9_at(hive: HiveProcess, step: str) -> None:
    name = "s" + str(SPAWN_STEPS.index(step))
    asked = request(manager_sock(hive), "request_spawn", name=name)["approval"]
    crash_at(hive, step, lambda: hive.host.request("approve", id=asked["id"]))
    deployed_and_running(hive, name, asked["id"])
    hive.host.request("destroy", name=name, purge=True)
    again = request(manager_sock(hive), "request_spawn", name=name)["approval"]  # the name is free again
    hive.host.request("deny", id=again["id"])


def test_a_seed_cut_short_by_an_older_daemon_is_made_again(hive: HiveProcess) -> None:
    """What the assert used to trip on: `configs/<name>/.git` with no commit."""
    asked = request(manager_sock(hive), "request_spawn", name="half")["approval"]
    repo = hive.settings.state_dir / "configs" / "half"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    hive.host.request("approve", id=asked["id"])
    deployed_and_running(hive, "half", asked["id"])


@pytest.mark.parametrize("step", PROPOSE_STEPS)
def test_a_proposal_killed_before_its_card_leaves_no_unvalidated_card(hive: HiveProcess, step: str) -> None:
    name = "p" + str(PROPOSE_STEPS.index(step))
    asked = request(manager_sock(hive), "request_spawn", name=name)["approval"]
    hive.host.request("approve", id=asked["id"])
    deployed_and_running(hive, name, asked["id"])
    repo = hive.settings.state_dir / "configs" / name
    toml = repo / "agent.toml"
    text = toml.read_text().replace('description = ""', 'description = "changed"')
    sha = commit_agent_toml(repo.parent.parent, repo.name, text)
    crash_at(hive, step, lambda: request(manager_sock(hive), "request_apply_commit", agent=name, commit_ref=sha))
    cards = [a for a in hive.host.request("pending", status="pending")["approvals"] if a["agent"] == name]
    assert all(a["fetched_sha"] == sha and a["diff"] for a in cards), cards  # validated, or not shown at all
    if not cards:  # killed before the card: asking again works
        cards = [request(manager_sock(hive), "request_apply_commit", agent=name, commit_ref=sha)["approval"]]
    hive.host.request("approve", id=cards[0]["id"])
    deployed_and_running(hive, name, cards[0]["id"])


@pytest.mark.parametrize("step", ["seed.built", "seed.renamed"])
def test_an_approved_init_config_survives_a_kill9_at(hive: HiveProcess, step: str) -> None:
    name = "i" + step.split(".")[1][0]
    asked = request(manager_sock(hive), "request_init_config", name=name)["approval"]
    crash_at(hive, step, lambda: hive.host.request("approve", id=asked["id"]))
    done = finished(hive, asked["id"])
    assert done["status"] == "approved", done
    repo = hive.settings.state_dir / "configs" / name
    assert subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True).returncode == 0
    assert not list((hive.settings.state_dir / "configs").glob(".seed-*")), "a half-made seed was left"
