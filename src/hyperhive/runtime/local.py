"""Backends whose sandboxes run on this host, each under a keeper process (see keeper.py): the daemon only
starts keepers and watches them, so restarting the daemon (even kill -9) leaves every sandbox running, and
the next daemon adopts them from `<runtime_dir>/sandboxes/<name>/`. Subclasses say what to run."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import signal
import sys
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hyperhive.protocol.names import InvalidName, check_agent_name

from ._files import KeeperFiles, KeeperOrders, read_json, write_json
from ._keeper import KILL_REQUEST
from ._run import Run
from ._spawn import spawn_keeper
from .base import ExitCallback, ExitInfo, LimitReport, Runtime, SandboxHandle, SandboxState, SandboxStatus
from .errors import SandboxBusy, SandboxNotFound, SandboxSpecError, SandboxStartError
from .limits import LimitPlan, LimitsBackend, plan_limits, release_limits
from .logfile import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, tail_lines
from .spec import SandboxSpec, check_spec

START_TIMEOUT = 30.0  # for the keeper to say it is up: python start plus the sandbox's own setup (~0.1 s)
log = logging.getLogger(__name__)
KEEPER_GRACE = 5.0  # after a kill request, before the keeper itself is SIGKILLed


@dataclass(frozen=True)
class LocalConfig:
    """Settings of the backends that run sandboxes on this host."""

    runtime_dir: Path
    """The hive's runtime dir; keepers keep their files in `<runtime_dir>/sandboxes/<name>/`."""
    limits_backend: LimitsBackend = "auto"
    """`auto`: cgroups where available, else rlimits; `rlimit`: rlimits only."""
    cgroup_parent: Path | None = None
    """A delegated cgroup v2 dir to create sandbox cgroups under, instead of detecting one."""
    log_max_bytes: int = DEFAULT_MAX_BYTES
    """Rotate the harness log when it would grow past this."""
    log_backups: int = DEFAULT_BACKUPS
    """Rotated harness logs kept (`harness.log.1` …)."""
    python: str = sys.executable
    """The interpreter that runs keepers."""


class KeeperRuntime(Runtime):
    """Shared machinery of the bwrap and process backends."""

    mode: ClassVar[str]  # the keeper's mode: how it finds the command and kills the sandbox

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.root = config.runtime_dir / "sandboxes"
        # Names cgroups of this hive apart from another hive's on the same host.
        self._token = hashlib.sha256(str(self.root.absolute()).encode()).hexdigest()[:8]
        self._runs: dict[str, Run] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one create/start/destroy at a time per sandbox

    @abstractmethod
    def _command(self, spec: SandboxSpec) -> tuple[list[str], dict[str, str], str]:
        """argv (the keeper adds bwrap's --json-status-fd), environment and working directory to start."""

    def _prepare(self, spec: SandboxSpec) -> None:
        """Before each start: make the host side ready for the sandbox (bwrap: its uid's files)."""

    def _not_applied(self, spec: SandboxSpec) -> list[str]:
        """Parts of the spec this backend cannot apply, one sentence each."""
        return []

    # --- interface --------------------------------------------------------------------------------
    async def create(self, spec: SandboxSpec) -> SandboxHandle:
        try:
            check_agent_name(spec.name)
        except InvalidName as exc:
            raise SandboxSpecError(str(exc)) from None
        check_spec(spec)
        async with self._lock(spec.name):
            return self._create(spec)

    def _create(self, spec: SandboxSpec) -> SandboxHandle:
        files = self._files(spec.name)
        if self._live_run(files) is not None:
            raise SandboxBusy(f"sandbox {spec.name!r} is running; stop it before re-creating it")
        files.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(files.spec, spec.to_dict())
        return SandboxHandle(self.kind, spec.name, str(files.dir))

    async def start(self, handle: SandboxHandle) -> SandboxStatus:
        async with self._lock(handle.name):
            return await self._start(handle)

    async def _start(self, handle: SandboxHandle) -> SandboxStatus:
        files = self._files_of(handle)
        spec = self._spec(files, handle)
        if self._live_run(files) is not None:
            raise SandboxBusy(f"sandbox {spec.name!r} is already running")
        for directory in (spec.state_dir, spec.log_path.parent):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        spec.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        await asyncio.to_thread(self._prepare, spec)
        plan = plan_limits(spec.limits, f"hh-{spec.name}-{self._token}", self.config.limits_backend,
                           self.config.cgroup_parent)
        plan = _with_unapplied(plan, self._not_applied(spec))
        write_json(files.launch, self._orders(spec, plan))
        try:
            state, pidfd = await spawn_keeper(self.config.python, files, START_TIMEOUT)
        except SandboxStartError:
            await asyncio.to_thread(release_limits, plan)
            raise
        run = Run(files, state, pidfd)
        self._runs[spec.name] = run
        run.arm()
        return self._status_of(run)

    async def stop(self, handle: SandboxHandle, timeout: float) -> ExitInfo | None:
        run = self._run(handle)
        if run is None or run.exit is not None:
            return run.exit if run else None
        run.signal(signal.SIGTERM)  # the keeper passes it on to the command
        try:
            return await asyncio.wait_for(run.wait(), timeout)
        except TimeoutError:
            return await self.kill(handle)

    async def kill(self, handle: SandboxHandle) -> ExitInfo | None:
        run = self._run(handle)
        if run is None or run.exit is not None:
            return run.exit if run else None
        run.signal(KILL_REQUEST)
        try:
            return await asyncio.wait_for(run.wait(), KEEPER_GRACE)
        except TimeoutError:
            run.signal(signal.SIGKILL)  # a keeper that does not answer; Run then kills what is left
            return await run.wait()

    async def status(self, handle: SandboxHandle) -> SandboxStatus:
        files = self._files_of(handle)
        if not files.spec.exists():
            return SandboxStatus(SandboxState.ABSENT, warning=self.warning)
        run = self._run(handle)
        if run is None:
            return SandboxStatus(SandboxState.STOPPED, warning=self.warning)
        run.arm()
        return self._status_of(run)

    def watch(self, handle: SandboxHandle, on_exit: ExitCallback) -> Callable[[], None]:
        run = self._run(handle)
        if run is None:
            raise SandboxNotFound(f"sandbox {handle.name!r} has not been started")
        return run.watch(on_exit)

    async def wait_exit(self, handle: SandboxHandle) -> ExitInfo:
        run = self._run(handle)
        if run is None:
            raise SandboxNotFound(f"sandbox {handle.name!r} has not been started")
        return await run.wait()

    async def logs(self, handle: SandboxHandle, lines: int) -> list[str]:
        spec = self._spec(self._files_of(handle), handle)
        return await asyncio.to_thread(tail_lines, spec.log_path, lines)

    async def destroy(self, handle: SandboxHandle, timeout: float = 10.0) -> None:
        files = self._files_of(handle)
        async with self._lock(handle.name):
            await self.stop(handle, timeout)
            run = self._runs.pop(handle.name, None)
            if run is not None:
                await run.released()
            orders = read_json(files.launch)
            if orders:  # the keeper removed them; not if it died (then Run did, or this does)
                for problem in await asyncio.to_thread(release_limits, LimitPlan.from_dict(orders["limits"])):
                    log.warning("sandbox %s: %s", handle.name, problem)
            shutil.rmtree(files.dir, ignore_errors=True)

    async def handles(self) -> list[SandboxHandle]:
        if not self.root.is_dir():
            return []
        return [SandboxHandle(self.kind, path.parent.name, str(path.parent))
                for path in sorted(self.root.glob("*/spec.json"))]

    # --- runs -------------------------------------------------------------------------------------
    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _run(self, handle: SandboxHandle) -> Run | None:
        """The current run: the one we watch, or the one on disk (started by an earlier daemon)."""
        files = self._files_of(handle)
        known = self._runs.get(handle.name)
        on_disk = read_json(files.keeper)
        if known is not None and (known.same_keeper(on_disk) or (on_disk is None and known.exit is not None)):
            return known
        run = Run.adopt(files)
        if run is not None:
            self._runs[handle.name] = run
        return run

    def _live_run(self, files: KeeperFiles) -> Run | None:
        run = self._run(SandboxHandle(self.kind, files.dir.name, str(files.dir)))
        return run if run is not None and run.exit is None else None

    def _status_of(self, run: Run) -> SandboxStatus:
        if run.exit is None:
            state = SandboxState.RUNNING
        else:
            state = SandboxState.STOPPED if run.exit.requested else SandboxState.EXITED
        return SandboxStatus(state, run.exit, run.started_at, run.sandbox_pid if run.exit is None else None,
                             run.limits, self.warning)

    # --- starting a keeper ------------------------------------------------------------------------
    def _orders(self, spec: SandboxSpec, plan: LimitPlan) -> KeeperOrders:
        argv, env, cwd = self._command(spec)
        return {"name": spec.name, "mode": self.mode, "argv": argv, "env": env, "cwd": cwd,
                "log_path": str(spec.log_path), "log_max_bytes": self.config.log_max_bytes,
                "log_backups": self.config.log_backups, "limits": plan.to_dict()}

    # --- paths ------------------------------------------------------------------------------------
    def _files(self, name: str) -> KeeperFiles:
        return KeeperFiles(self.root / check_agent_name(name))

    def _files_of(self, handle: SandboxHandle) -> KeeperFiles:
        if handle.runtime != self.kind:
            raise SandboxNotFound(f"sandbox {handle.name!r} belongs to the {handle.runtime!r} runtime, "
                                  f"not {self.kind!r}")
        return self._files(handle.name)

    def _spec(self, files: KeeperFiles, handle: SandboxHandle) -> SandboxSpec:
        data = read_json(files.spec)
        if data is None:
            raise SandboxNotFound(f"no sandbox {handle.name!r} on record (never created, or destroyed)")
        return SandboxSpec.from_dict(data)


def _with_unapplied(plan: LimitPlan, more: list[str]) -> LimitPlan:
    if not more:
        return plan
    report = LimitReport(plan.report.applied, (*plan.report.unapplied, *more))
    return LimitPlan(report, plan.cgroup_dirs, plan.join, plan.kill_file, plan.rlimits)
