"""Resource limits: applied through a cgroup where this host has one we may use, else through rlimits, and
every limit that could not be applied as asked is reported with a sentence."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
from pathlib import Path

import pytest

from hyperhive.runtime import Limits
from hyperhive.runtime.bwrap import BwrapRuntime
from hyperhive.runtime.cgroups import find_parents
from hyperhive.runtime.limits import enter_limits, plan_limits, release_limits
from hyperhive.runtime.local import LocalConfig
from tests.support.needs import require_cgroup

from .conftest import PYTHON, SpecFactory

FORK_MANY = """
import os, time
started = 0
for _ in range(60):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    started += 1
print("started", started)
"""


@pytest.mark.bwrap
async def test_pids_limit_stops_a_fork_bomb(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    handle = await bwrap_runtime.create(make_spec([PYTHON, "-c", FORK_MANY], limits=Limits(pids=20)))
    status = await bwrap_runtime.start(handle)
    assert status.limits is not None
    if not status.limits.applied.get("pids", "").startswith("cgroup"):
        await bwrap_runtime.kill(handle)
        require_cgroup(status.limits.applied, status.limits.unapplied)
    assert (await asyncio.wait_for(bwrap_runtime.wait_exit(handle), 30)).returncode == 0
    started = int(next(line for line in await bwrap_runtime.logs(handle, 5) if line.startswith("started")).split()[1])
    assert 5 <= started < 20  # bwrap's init and the python process count too


@pytest.mark.bwrap
async def test_cgroups_hold_the_sandbox_and_are_removed_after(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory
) -> None:
    handle = await bwrap_runtime.create(make_spec(["/bin/sleep", "600"], limits=Limits(memory_mb=256, cpu_percent=50,
                                                                                        pids=64)))
    status = await bwrap_runtime.start(handle)
    assert status.limits is not None and status.pid is not None
    if not any(how.startswith("cgroup") for how in status.limits.applied.values()):
        await bwrap_runtime.kill(handle)
        require_cgroup({}, status.limits.unapplied)
    dirs = _plan_dirs(bwrap_runtime, handle.name)
    groups = Path(f"/proc/{status.pid}/cgroup").read_text()
    assert all(Path(d).name in groups for d in dirs), "the sandbox's pid 1 must be in every cgroup of the run"
    await bwrap_runtime.kill(handle)
    assert dirs and not any(Path(d).exists() for d in dirs), "cgroups must go with the run"


def _plan_dirs(runtime: BwrapRuntime, name: str) -> list[str]:
    from hyperhive.runtime._files import KeeperFiles, read_json

    orders = read_json(KeeperFiles(runtime.root / name).launch) or {}
    return list(orders["limits"]["cgroup_dirs"])


@pytest.mark.bwrap
async def test_rlimit_fallback_applies_memory_and_reports_the_rest(short_tmp: Path, make_spec: SpecFactory) -> None:
    runtime = BwrapRuntime(LocalConfig(short_tmp / "run", limits_backend="rlimit"))
    script = ("import resource\nprint('as', resource.getrlimit(resource.RLIMIT_AS)[0])\n"
              "try:\n    b = bytearray(600 * 1024 * 1024)\nexcept MemoryError:\n    print('MemoryError')")
    limits = Limits(memory_mb=300, cpu_percent=50, pids=100)
    handle = await runtime.create(make_spec([PYTHON, "-c", script], limits=limits))
    status = await runtime.start(handle)
    assert status.limits is not None
    assert status.limits.applied["memory_mb"] == "RLIMIT_AS (per process)"
    unapplied = " ".join(status.limits.unapplied)
    assert "cpu_percent" in unapplied and "not applied" in unapplied
    assert "memory_mb" in unapplied and "address space" in unapplied
    if os.geteuid() == 0:
        assert "pids" in unapplied and "does not bind root" in unapplied
    else:
        assert status.limits.applied["pids"] == "RLIMIT_NPROC (per user)"
    assert (await asyncio.wait_for(runtime.wait_exit(handle), 10)).returncode == 0
    logs = await runtime.logs(handle, 5)
    assert f"as {300 * 1024 * 1024}" in logs and "MemoryError" in logs


def test_no_limits_asked_means_nothing_to_report() -> None:
    plan = plan_limits(Limits(), "hh-unused")
    assert plan.report.applied == {} and plan.report.unapplied == () and plan.cgroup_dirs == ()


def test_plan_survives_the_trip_through_json() -> None:
    from hyperhive.runtime.limits import LimitPlan

    plan = plan_limits(Limits(memory_mb=64, cpu_percent=10), "hh-unused", backend="rlimit")
    assert LimitPlan.from_dict(plan.to_dict()) == plan


def _fake_cgroup2(root: Path) -> tuple[Path, Path]:
    """A cgroup v2 tree as systemd leaves it with Delegate=yes and DelegateSubgroup=c0re: the daemon lives in
    <service>/c0re, and <service> is delegated (the trusted.delegate xattr). Returns (fake /proc/self, the
    service dir)."""
    mount = root / "cgroup"
    service = mount / "system.slice" / "hive-c0re.service"
    (service / "c0re").mkdir(parents=True)
    for name, text in {"cgroup.controllers": "cpu memory pids", "cgroup.subtree_control": "",
                       "cgroup.procs": ""}.items():
        (service / name).write_text(text)
    os.setxattr(service, "trusted.delegate", b"1")
    proc = root / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("0::/system.slice/hive-c0re.service/c0re\n")
    (proc / "mountinfo").write_text(f"30 1 0:26 / {mount} rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n")
    return proc, service


@pytest.mark.skipif(os.geteuid() != 0, reason="setting a trusted.* xattr needs root")
def test_cgroup_v2_delegated_parent_is_found_and_used(short_tmp: Path) -> None:
    """No cgroup v2 controllers are free on this CI host (they are all on v1), so the v2 path is checked
    on a fake tree: what it detects and what it would write."""
    proc, service = _fake_cgroup2(short_tmp)
    parents = {c: p for c, p in find_parents(proc=proc).items() if p.version == 2}
    assert {c: p.dir for c, p in parents.items()} == {"memory": service, "cpu": service, "pids": service}
    plan = plan_limits(Limits(memory_mb=512, cpu_percent=150, pids=99), "hh-bob-x", cgroup_parent=service)
    group = service / "hh-bob-x"
    assert (group / "memory.max").read_text() == str(512 * 1024 * 1024)
    assert (group / "cpu.max").read_text() == "150000 100000"
    assert (group / "pids.max").read_text() == "99"
    assert plan.join == (str(group / "cgroup.procs"),) and plan.report.unapplied == ()
    for name in ("memory.max", "cpu.max", "pids.max"):
        (group / name).unlink()
    assert release_limits(plan) == [] and not group.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="setting a trusted.* xattr needs root")
def test_without_delegate_subgroup_the_daemon_moves_into_a_leaf_of_its_delegated_cgroup(short_tmp: Path) -> None:
    """systemd < 254 (Debian 12 has 252) ignores DelegateSubgroup=: the daemon starts in the delegated cgroup
    itself, and moves its processes into c0re/ as systemd would have, so the sandboxes' cgroups go beside it."""
    proc, service = _fake_cgroup2(short_tmp)
    (service / "c0re").rmdir()
    (proc / "cgroup").write_text("0::/system.slice/hive-c0re.service\n")
    (service / "cgroup.procs").write_text("4242\n")
    parents = {c: p.dir for c, p in find_parents(proc=proc).items() if p.version == 2}
    assert parents == {"memory": service, "cpu": service, "pids": service}
    assert (service / "c0re" / "cgroup.procs").read_text() == "4242"
    shutil.rmtree(service / "c0re")
    os.removexattr(service, "trusted.delegate")  # an undelegated cgroup is never reorganised
    assert all(p.version == 1 for p in find_parents(proc=proc).values())
    assert not (service / "c0re").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="setting a trusted.* xattr needs root")
def test_an_undelegated_cgroup_is_left_alone(short_tmp: Path) -> None:
    proc, service = _fake_cgroup2(short_tmp)
    os.removexattr(service, "trusted.delegate")
    assert all(p.version == 1 for p in find_parents(proc=proc).values())
    assert (service / "cgroup.subtree_control").read_text() == ""


def test_enter_limits_sets_rlimits_in_the_calling_process() -> None:
    plan = plan_limits(Limits(memory_mb=2048), "hh-unused", backend="rlimit")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        enter_limits(plan)
        os._exit(0 if resource.getrlimit(resource.RLIMIT_AS)[0] == 2048 * 1024 * 1024 else 1)
    assert os.waitpid(pid, 0)[1] == 0


FORK_FOREVER = "i=0; while :; do sleep 300 & i=$((i+1)); if [ $i = 20 ]; then echo up >&3; exec 3>&-; fi; done"


def test_release_empties_a_cgroup_whose_processes_keep_forking(short_tmp: Path) -> None:
    """Regression: a cgroup was left behind when its last processes were still dying at rmdir time (EBUSY).
    release_limits kills in rounds, waits on pidfds until each process has exited, and only then removes
    the cgroup, retrying while the kernel still counts an exited task."""
    plan = plan_limits(Limits(pids=200), f"hh-fork-{os.getpid()}")
    if not plan.join:
        require_cgroup({}, plan.report.unapplied)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        enter_limits(plan)
        os.dup2(ready_w, 3)
        os.execv("/bin/sh", ["sh", "-c", FORK_FOREVER])
    os.close(ready_w)
    try:
        assert os.read(ready_r, 16) == b"up\n"  # 20 forked, and it goes on forking
    finally:
        os.close(ready_r)
        problems = release_limits(plan)
        os.waitpid(pid, 0)
    assert problems == []
    assert not any(Path(group).exists() for group in plan.cgroup_dirs)
