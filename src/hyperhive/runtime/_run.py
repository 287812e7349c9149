"""The daemon's side of one run: its keeper watched through a pidfd in the event loop.

A pidfd turns readable the moment the process exits, and works for a process that is not our child (one a
previous daemon started), so `loop.add_reader` gives crash detection with no polling and no thread. The
pid is trusted only with its start time (see _proc.py), so a recycled pid is never taken for the keeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

from . import _proc
from ._files import KeeperFiles, KeeperState, read_json
from .base import ExitCallback, ExitInfo, LimitReport
from .limits import LimitPlan, release_limits

log = logging.getLogger(__name__)


class Run:
    """One start of one sandbox, as the daemon knows it."""

    def __init__(self, files: KeeperFiles, state: KeeperState | None, pidfd: int | None) -> None:
        self.files = files
        self.state = state  # None: it ended before it was up
        self.exit: ExitInfo | None = None
        self._pidfd = pidfd
        self._callbacks: list[ExitCallback] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._releasing: asyncio.Future[list[str]] | None = None  # a lost run's cgroups being emptied

    @classmethod
    def adopt(cls, files: KeeperFiles) -> Run | None:
        """The run on record in `files` (live or ended), or None if none was ever started."""
        state = read_json(files.keeper)
        if state is None:
            ended = read_json(files.exit)  # ended before it was up (bwrap setup failed)
            if ended is None:
                return None
            run = cls(files, None, None)
            run.exit = ExitInfo.from_dict(ended)
            return run
        run = cls(files, state, _proc.open_pidfd(int(state["keeper_pid"]), int(state["keeper_start"])))
        if run._pidfd is None:
            run._finish()
        return run

    @property
    def started_at(self) -> float | None:
        return self.state.get("started_at") if self.state else None

    @property
    def sandbox_pid(self) -> int | None:
        pid = self.state.get("sandbox_pid") if self.state else None
        return int(pid) if pid else None

    @property
    def limits(self) -> LimitReport | None:
        data = self.state.get("limits") if self.state else None
        return LimitReport.from_dict(data) if data else None

    def same_keeper(self, state: KeeperState | None) -> bool:
        mine = self.state
        return (state is not None and mine is not None and mine.get("keeper_pid") == state.get("keeper_pid")
                and mine.get("keeper_start") == state.get("keeper_start"))

    def arm(self) -> None:
        """Start watching (idempotent); an ended run reports at once."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._on_exit)
            if _proc.has_exited(self._pidfd):  # it may have ended before we looked
                self._on_exit()

    def watch(self, on_exit: ExitCallback) -> Callable[[], None]:
        self.arm()
        assert self._loop is not None
        if self.exit is not None:
            handle = self._loop.call_soon(on_exit, self.exit)
            return handle.cancel
        self._callbacks.append(on_exit)

        def cancel() -> None:
            if on_exit in self._callbacks:
                self._callbacks.remove(on_exit)
        return cancel

    async def wait(self) -> ExitInfo:
        if self.exit is not None:
            return self.exit
        future: asyncio.Future[ExitInfo] = asyncio.get_running_loop().create_future()

        def resolve(info: ExitInfo) -> None:
            if not future.done():
                future.set_result(info)
        cancel = self.watch(resolve)
        try:
            return await future
        finally:
            cancel()

    def signal(self, signum: int) -> bool:
        """Signal the keeper; False if it has ended."""
        return self._pidfd is not None and self.exit is None and _proc.send_signal(self._pidfd, signum)

    def _on_exit(self) -> None:
        if self._loop is not None and self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
        self._finish()
        for callback in self._callbacks[:]:
            try:
                callback(self.exit)  # type: ignore[arg-type]  # _finish always sets it
            except Exception:
                log.exception("exit callback of %s failed", self.files.dir.name)
        self._callbacks.clear()

    def _finish(self) -> None:
        if self.exit is not None:
            return
        if self._pidfd is not None:
            _proc.reap(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        recorded = read_json(self.files.exit)
        self.exit = ExitInfo.from_dict(recorded) if recorded else self._lost()

    async def released(self) -> None:
        """Wait until the cleanup of a lost run's cgroups (if any) is done."""
        if self._releasing is not None:
            await asyncio.shield(self._releasing)

    def _release(self, plan: LimitPlan) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # adopted outside a loop: nothing to keep waiting for us
            _log_problems(self.files.dir.name, release_limits(plan))
            return
        self._releasing = loop.run_in_executor(None, release_limits, plan)
        self._releasing.add_done_callback(self._log_release)

    def _log_release(self, done: asyncio.Future[list[str]]) -> None:
        if not done.cancelled():
            _log_problems(self.files.dir.name, done.result())

    def _lost(self) -> ExitInfo:
        """The keeper died without recording the end (it was SIGKILLed, or the host's OOM killer took it).
        Its sandbox died with it (bwrap's --die-with-parent, the command's parent-death signal); make sure,
        and free the cgroups."""
        killed = ""
        pid, started = (self.state.get("sandbox_pid"), self.state.get("sandbox_start")) if self.state else (None, None)
        if pid and started:
            fd = _proc.open_pidfd(int(pid), int(started))
            if fd is not None:
                if _proc.send_signal(fd, signal.SIGKILL):
                    killed = "; its sandbox was still alive and was killed"
                os.close(fd)
        orders = read_json(self.files.launch) or {}
        if "limits" in orders:
            with contextlib.suppress(KeyError, ValueError):
                # What the parent-death signals missed (the process backend's background jobs): killed, waited
                # for and the cgroups removed in a thread, since a dying process may take a while.
                self._release(LimitPlan.from_dict(orders["limits"]))
        return ExitInfo(None, None, time.time(), detail="its keeper died without recording the exit" + killed)


def _log_problems(name: str, problems: list[str]) -> None:
    for problem in problems:
        log.warning("sandbox %s: %s", name, problem)
