"""One run of one sandbox, inside its keeper process (see keeper.py for the process around it): start the
sandbox, copy its output into the harness log, pass signals on, clean up after it, and say how it ended."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from . import _proc
from ._files import KeeperFiles, KeeperOrders, KeeperState
from .base import ExitInfo
from .identity import STAGED_BWRAP, enter_identity
from .limits import LimitPlan, enter_limits, kill_cgroup, release_limits
from .logfile import RotatingLog

KILL_REQUEST = signal.SIGUSR1  # the daemon's "SIGKILL the whole sandbox"
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_DRAIN_SECONDS = 2.0  # after the sandbox ends, how long a leftover writer may hold the log pipe open


class StartFailed(RuntimeError):
    """The sandbox ended before it was up (bwrap failed before it created the namespaces); `record` is how."""

    def __init__(self, message: str, record: ExitInfo) -> None:
        super().__init__(message)
        self.record = record


class Keeper:
    """One run of one sandbox. `orders` is launch.json: argv, env, cwd, mode ("bwrap" or "process"),
    log_path, log_max_bytes, log_backups, limits."""

    def __init__(self, orders: KeeperOrders, files: KeeperFiles) -> None:
        self.orders = orders
        self.files = files
        self.mode: str = orders["mode"]
        self.plan = LimitPlan.from_dict(orders["limits"])
        self.log = RotatingLog(Path(orders["log_path"]), orders["log_max_bytes"], orders["log_backups"])
        self.requested = False
        self.child: subprocess.Popen[bytes] | None = None
        self.sandbox_pid = 0
        self.sandbox_fd: int | None = None  # pidfd of the sandbox's outermost process
        self._status: BinaryIO | None = None  # bwrap's --json-status-fd
        self._wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for signum in (*_FORWARDED, KILL_REQUEST, signal.SIGCHLD):
            signal.signal(signum, lambda *_: None)  # the wakeup fd carries them to the loop

    # --- start ------------------------------------------------------------------------------------
    def start(self) -> KeeperState:
        """Start the sandbox; returns keeper.json's content. Raises RuntimeError with what went wrong."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        info_r, info_w = os.pipe2(os.O_CLOEXEC) if self.mode == "bwrap" else (-1, -1)
        argv = list(self.orders["argv"])
        if info_w >= 0:
            argv[1:1] = ["--json-status-fd", str(info_w)]
        self._log_line(f"starting sandbox {self.orders['name']}")
        if self.orders.get("identity"):
            (self.files.dir / "stage").mkdir(mode=0o700, exist_ok=True)
        try:
            self.child = subprocess.Popen(
                argv, executable=STAGED_BWRAP if self.orders.get("identity") else None,
                stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, env=self.orders["env"],
                cwd=self.orders["cwd"], pass_fds=(info_w,) if info_w >= 0 else (),
                start_new_session=True, preexec_fn=self._in_child)  # single-threaded: preexec is safe
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeError(f"could not start {argv[0]}: {exc}") from None
        finally:
            os.close(out_w)
            if info_w >= 0:
                os.close(info_w)
        self._out_r = out_r
        self.sandbox_pid = self._read_info(info_r) if info_r >= 0 else self.child.pid
        if not self.sandbox_pid:
            raise self._failed_start()
        with contextlib.suppress(ProcessLookupError):  # gone already: the loop will see bwrap end
            self.sandbox_fd = os.pidfd_open(self.sandbox_pid)
        return {
            "keeper_pid": os.getpid(), "keeper_start": _proc.start_time(os.getpid()),
            "sandbox_pid": self.sandbox_pid, "sandbox_start": _proc.start_time(self.sandbox_pid),
            "started_at": time.time(), "mode": self.mode, "log_path": self.orders["log_path"],
            "limits": self.plan.report.to_dict(),
        }

    def _in_child(self) -> None:
        enter_limits(self.plan)  # as root: cgroup.procs is root's
        identity = self.orders.get("identity")
        if identity:
            enter_identity(identity["uid"], identity["gid"], identity["stage"], str(self.files.dir / "stage"),
                           self.orders["argv"][0])
        _proc.die_with_parent()  # after the uid change, which clears it

    def _read_info(self, info_r: int) -> int:
        """bwrap writes a line {"child-pid": N, …} (the host pid of the sandbox's pid 1) once it has
        cloned, nothing if it failed before; and at the end {"exit-code": N} only if its setup finished
        and the command was executed (see _setup_failed)."""
        self._status = os.fdopen(info_r, "rb")
        line = self._status.readline()
        return int(json.loads(line)["child-pid"]) if line.strip() else 0

    def _setup_failed(self) -> bool:
        if self._status is None:
            return False
        with self._status:
            rest = self._status.read()
        self._status = None
        return b'"exit-code"' not in rest

    def _failed_start(self) -> StartFailed:
        record = self.wait()
        said = _log_tail(self.orders["log_path"])
        return StartFailed(f"the sandbox failed to start: {said}" if said else "the sandbox failed to start",
                           record)

    # --- run --------------------------------------------------------------------------------------
    def wait(self) -> ExitInfo:
        """Serve the sandbox until it has ended; returns how (exit.json's content)."""
        assert self.child is not None
        selector = selectors.DefaultSelector()
        selector.register(self._out_r, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        status: int | None = None
        deadline = float("inf")
        # Until the command has ended, and then while its output still flows (for a short while at most).
        while status is None or (len(selector.get_map()) > 1 and time.monotonic() < deadline):
            timeout = None if status is None else max(0.0, deadline - time.monotonic())
            for key, _ in selector.select(timeout):
                if key.fd == self._wake_r:
                    self._on_signals()
                elif not self._copy_output():
                    selector.unregister(self._out_r)
            if status is None:
                status = self.child.poll()
                if status is not None:
                    self._clean_up_after(status)
                    deadline = time.monotonic() + _DRAIN_SECONDS
        selector.close()
        os.close(self._out_r)
        return self._exit_record(status)

    def _on_signals(self) -> None:
        with contextlib.suppress(BlockingIOError):
            for signum in os.read(self._wake_r, 256):
                if signum == KILL_REQUEST:
                    self.requested = True
                    self.kill_sandbox()
                elif signum in _FORWARDED:
                    self.requested = self.requested or signum == signal.SIGTERM  # SIGINT, SIGHUP: no stop
                    self._forward(signum)
                elif signum == signal.SIGCHLD:
                    self._reap_orphans()

    def _forward(self, signum: int) -> None:
        """To the sandbox's command: with bwrap, the children of the sandbox's pid 1 (bwrap's own init,
        which passes no signal on); else the command itself."""
        assert self.child is not None
        if self.mode != "bwrap":
            if self.child.returncode is None:  # not reaped yet, so the pid is still the child's
                os.kill(self.child.pid, signum)
            return
        targets = [fd for fd in map(self._open_sandbox_child, _proc.children(self.sandbox_pid)) if fd is not None]
        if not targets:  # nothing started yet, or only init left: nothing to end gracefully
            self.kill_sandbox()
        for fd in targets:
            _proc.send_signal(fd, signum)
            os.close(fd)

    def _open_sandbox_child(self, pid: int) -> int | None:
        started = _proc.start_time(pid)
        fd = _proc.open_pidfd(pid, started) if started is not None else None
        if fd is not None and _proc.parent_pid(pid) != self.sandbox_pid:  # exited and the pid reused
            os.close(fd)
            return None
        return fd

    def kill_sandbox(self) -> None:
        assert self.child is not None
        if self.mode == "bwrap" and self.sandbox_fd is not None:
            _proc.send_signal(self.sandbox_fd, signal.SIGKILL)  # pid 1 of the namespace: all of it goes
            return
        kill_cgroup(self.plan)
        if self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGKILL)

    def _copy_output(self) -> bool:
        data = os.read(self._out_r, 65536)
        if data:
            self.log.write(data)
        return bool(data)

    def _clean_up_after(self, status: int) -> None:
        """The command has ended: end whatever it left behind (with bwrap the namespace already took it
        all), reap, and remove the run's cgroups."""
        assert self.child is not None
        if self.mode != "bwrap":
            kill_cgroup(self.plan)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGKILL)
        self._kill_orphans()
        for problem in release_limits(self.plan):
            print(f"keeper: {problem}", file=sys.stderr)

    def _reap_orphans(self) -> None:
        assert self.child is not None
        for pid in _proc.children(os.getpid()):
            if pid != self.child.pid:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def _kill_orphans(self) -> None:
        """As a subreaper we inherit every orphan below us; kill and reap them until none is left."""
        while orphans := _proc.children(os.getpid()):
            for pid in orphans:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def _exit_record(self, status: int) -> ExitInfo:
        returncode: int | None = status
        signum: int | None = None
        if status < 0:
            returncode, signum = None, -status
        elif self.mode == "bwrap" and 128 < status <= 128 + 64:
            returncode, signum = None, status - 128  # bwrap reports a signal death as 128+N, as shells do
        detail = ""
        if self._setup_failed():
            said = _log_tail(self.orders["log_path"])
            detail = ("stopped before the command started" if self.requested
                      else f"bwrap could not set up the sandbox: {said}" if said
                      else "bwrap could not set up the sandbox")
        record = ExitInfo(returncode, signum, time.time(), self.requested, detail)
        how = f"code {returncode}" if signum is None else f"signal {signum}"
        self._log_line(f"sandbox {self.orders['name']} ended: {how}{' (stop requested)' if self.requested else ''}")
        return record

    def _log_line(self, text: str) -> None:
        start = "" if self.log.at_line_start else "\n"  # after output that did not end its line
        self.log.write(f"{start}[hyperhive {time.strftime('%Y-%m-%dT%H:%M:%S')}] {text}\n".encode())


def _log_tail(log_path: str, limit: int = 2000) -> str:
    """What bwrap said last (its errors start with "bwrap: "), else the last line of output."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - limit))
            lines = [line for line in log.read().decode(errors="replace").splitlines()
                     if line.strip() and not line.startswith("[hyperhive")]
    except OSError:
        return ""
    said = [line for line in lines if line.startswith("bwrap: ")] or lines
    return said[-1] if said else ""
