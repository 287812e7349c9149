"""Agents run under a uid of their own on the host (issue 13, defect 12): seen from the host, every process
of a sandbox (bwrap, the sandbox's init, the harness) has the agent's unprivileged uid, never 0, and the
agent's home is its own. What it can see and write is probed by test_sandboxed_agents.py and
tests/runtime/test_bwrap_view.py, which run under the same uid."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperhive.runtime.bwrap import probe_bwrap
from hyperhive.runtime.identity import AGENT_UID_BASE, agent_uid, hand_over
from tests.core.test_sandboxed_agents import connected, end_hive, sandbox, spawn, start_hive
from tests.support.hive import HiveProcess, wait_for
from tests.support.reaper import acting_as_init

pytestmark = pytest.mark.bwrap


@pytest.fixture
def hive(short_tmp: Path) -> Iterator[HiveProcess]:
    problem = probe_bwrap()
    if problem:
        pytest.fail(f"bwrap cannot create namespaces on this machine: {problem}")
    if os.geteuid() != 0:
        pytest.skip("the daemon is not root here: its agents already run unprivileged, as the daemon's user")
    with acting_as_init():
        running = start_hive(short_tmp / "hive")
        try:
            yield running
        finally:
            end_hive(running)


def uids(pid: int) -> list[int]:
    """Real, effective, saved and filesystem uid of a host process, as the host sees them."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(v) for v in line.split()[1:]]
    raise AssertionError(f"no Uid line for pid {pid}")


def test_each_agent_runs_under_its_own_unprivileged_uid(hive: HiveProcess) -> None:
    for name in ("alice", "bob"):
        spawn(hive, name)
    wait_for(lambda: connected(hive, "alice") and connected(hive, "bob"), timeout=30)
    seen: dict[str, int] = {}
    for name in ("alice", "bob"):
        pids = sandbox(hive, name)
        assert uids(pids["keeper"]) == [0] * 4  # the keeper stays root: it signals and cleans up
        for part in ("bwrap", "init", "harness"):
            assert uids(pids[part]) == [agent_uid(name)] * 4, f"{name}'s {part} runs as {uids(pids[part])}"
        seen[name] = agent_uid(name)
        home = hive.settings.state_dir / "agents" / name / "state"
        assert home.stat().st_uid == agent_uid(name)
        assert all(p.lstat().st_uid == agent_uid(name) for p in home.rglob("*"))
    assert seen["alice"] != seen["bob"] and min(seen.values()) >= AGENT_UID_BASE


def test_handing_over_a_home_never_follows_a_symlink_out_of_it(short_tmp: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can hand files over")
    outside = short_tmp / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "file").write_text("the host's")
    home = short_tmp / "home"
    (home / "sub").mkdir(parents=True)
    (home / "sub" / "notes.txt").write_text("the agent's")
    (home / "to-file").symlink_to(outside / "file")
    (home / "sub" / "to-dir").symlink_to(outside / "dir")
    hand_over(home, 4242, 4242)
    assert {p.lstat().st_uid for p in [home, *home.rglob("*")]} == {4242}
    assert {p.lstat().st_uid for p in [outside, *outside.rglob("*")]} == {0}
