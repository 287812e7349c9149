"""Applying an agent's resource limits: a cgroup per sandbox where one is available (see cgroups.py), else
rlimits, else a sentence saying why not. `plan_limits` runs in the daemon before the keeper starts and
creates the cgroups; the keeper moves the sandbox in (`enter_limits`, between fork and exec) and removes
them when it has ended (`release_limits`).

rlimits are a weak stand-in: RLIMIT_AS caps each process's address space, not the sandbox's total;
RLIMIT_NPROC counts every process of the user on the host and the kernel does not enforce it for root; and
nothing in rlimits caps a CPU share. Each of those is reported, never skipped silently.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from ._cgroup_empty import kill_all, remove_dirs
from .base import LimitReport, LimitReportRecord
from .cgroups import CgroupParent, find_parents
from .spec import Limits

LimitsBackend = Literal["auto", "rlimit"]
_MIB = 1024 * 1024
_CPU_PERIOD_US = 100_000
_CONTROLLER = {"memory_mb": "memory", "cpu_percent": "cpu", "pids": "pids"}


class LimitPlanRecord(TypedDict):
    """`LimitPlan` as JSON, in the keeper's orders."""

    report: LimitReportRecord
    cgroup_dirs: list[str]
    join: list[str]
    kill_file: str | None
    rlimits: list[list[int]]


@dataclass(frozen=True)
class LimitPlan:
    """How one run's limits are enforced; serialized into the keeper's orders."""

    report: LimitReport = field(default_factory=LimitReport)
    cgroup_dirs: tuple[str, ...] = ()
    """Created for this run; removed when it ends."""
    join: tuple[str, ...] = ()
    """cgroup.procs files the sandbox's first process writes itself into before exec."""
    kill_file: str | None = None
    """cgroup.kill of a v2 cgroup: SIGKILLs every process in it."""
    rlimits: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> LimitPlanRecord:
        return {"report": self.report.to_dict(), "cgroup_dirs": list(self.cgroup_dirs), "join": list(self.join),
                "kill_file": self.kill_file, "rlimits": [list(pair) for pair in self.rlimits]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LimitPlan:
        return cls(LimitReport.from_dict(data["report"]), tuple(data["cgroup_dirs"]), tuple(data["join"]),
                   data.get("kill_file"), tuple((int(r), int(v)) for r, v in data["rlimits"]))


def plan_limits(limits: Limits, group: str, backend: LimitsBackend = "auto",
                cgroup_parent: Path | None = None) -> LimitPlan:
    """Create the cgroups (named `group`) for `limits` and say how each limit is enforced."""
    asked = limits.asked()
    if not asked:
        return LimitPlan()
    parents = find_parents(cgroup_parent) if backend == "auto" else {}
    applied: dict[str, str] = {}
    unapplied: list[str] = []
    made: dict[Path, None] = {}  # ordered set of created cgroup dirs
    rlimits: list[tuple[int, int]] = []
    for key, value in asked.items():
        parent = parents.get(_CONTROLLER[key])
        if parent is not None:
            how = _apply_cgroup(key, value, parent, group, made, unapplied)
            if how:
                applied[key] = how
                continue
        how, pair = _rlimit(key, value, unapplied)
        if how and pair:
            applied[key] = how
            rlimits.append(pair)
    dirs = tuple(str(d) for d in made)
    kill = next((str(Path(d) / "cgroup.kill") for d in made if (Path(d) / "cgroup.kill").exists()), None)
    return LimitPlan(LimitReport(applied, tuple(unapplied)), dirs, tuple(str(Path(d) / "cgroup.procs") for d in made),
                     kill, tuple(rlimits))


def enter_limits(plan: LimitPlan) -> None:
    """In the sandbox's first process, between fork and exec: join the cgroups, set the rlimits."""
    for procs in plan.join:
        Path(procs).write_text("0")  # "0" is the writing process
    for which, value in plan.rlimits:
        resource.setrlimit(which, (value, value))


def release_limits(plan: LimitPlan) -> list[str]:
    """Kill whatever is left in the run's cgroups, wait until it has exited, and remove them; returns a
    sentence per cgroup that could not be removed. Blocks (up to a few seconds when something will not die):
    a daemon calls it in a thread."""
    if not plan.cgroup_dirs:
        return []
    kill_all(plan.join, plan.kill_file)
    return remove_dirs(plan.cgroup_dirs)


def kill_cgroup(plan: LimitPlan) -> None:
    """SIGKILL every process in the run's cgroups now, without waiting for them to exit."""
    if plan.join:
        kill_all(plan.join, plan.kill_file, patience=0)


def _apply_cgroup(key: str, value: int, parent: CgroupParent, group: str,
                  made: dict[Path, None], unapplied: list[str]) -> str | None:
    directory = parent.dir / group
    writes = _cgroup_writes(key, value, parent.version)
    try:
        if directory not in made:
            directory.mkdir(exist_ok=True)
            made[directory] = None
        for name, text in writes:
            (directory / name).write_text(text)
    except OSError as exc:
        unapplied.append(f"{key}: cgroup v{parent.version} {directory} could not be set up ({exc.strerror}); "
                         "falling back to rlimits")
        return None
    return f"cgroup v{parent.version} " + ", ".join(f"{name}={text}" for name, text in writes)


def _cgroup_writes(key: str, value: int, version: int) -> list[tuple[str, str]]:
    if key == "memory_mb":
        return [("memory.max" if version == 2 else "memory.limit_in_bytes", str(value * _MIB))]
    if key == "cpu_percent":
        quota = str(value * _CPU_PERIOD_US // 100)
        if version == 2:
            return [("cpu.max", f"{quota} {_CPU_PERIOD_US}")]
        return [("cpu.cfs_period_us", str(_CPU_PERIOD_US)), ("cpu.cfs_quota_us", quota)]
    return [("pids.max", str(value))]


def _rlimit(key: str, value: int, unapplied: list[str]) -> tuple[str | None, tuple[int, int] | None]:
    if key == "memory_mb":
        unapplied.append(f"memory_mb: no cgroup memory controller is available, so the sandbox's total "
                         f"memory is not limited; each process's address space is capped at {value} MiB "
                         "(RLIMIT_AS) instead")
        return "RLIMIT_AS (per process)", (resource.RLIMIT_AS, value * _MIB)
    if key == "pids":
        if os.geteuid() == 0:
            unapplied.append(f"pids: no cgroup pids controller is available, and RLIMIT_NPROC does not bind "
                             f"root, so the limit of {value} processes is not applied")
            return None, None
        unapplied.append(f"pids: no cgroup pids controller is available; RLIMIT_NPROC={value} counts every "
                         f"process of uid {os.geteuid()} on the host, not only this sandbox's")
        return "RLIMIT_NPROC (per user)", (resource.RLIMIT_NPROC, value)
    unapplied.append(f"cpu_percent: no cgroup cpu controller is available, and rlimits cannot cap a CPU share, "
                     f"so the limit of {value}% is not applied")
    return None, None
