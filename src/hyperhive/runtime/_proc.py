"""Process identity without races: a pid is only trusted together with its start time, and only acted on
through a pidfd opened before the start time was checked (a pidfd pins the process, so a pid reused after
that check can never be signalled by mistake). Linux only; no polling anywhere."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or None if
    it is gone. Together with the pid it names one process for the life of the machine."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[19])


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def open_pidfd(pid: int, started: int) -> int | None:
    """A pidfd for `pid` if it is still the process that started at `started` (perhaps exited and not yet
    reaped: see has_exited); else None. The caller owns (and closes) the fd."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return None
    if start_time(pid) != started:
        os.close(fd)
        return None
    return fd


def has_exited(pidfd: int) -> bool:
    """True once the process has exited (a pidfd turns readable then). One look, no waiting."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def send_signal(pidfd: int, signum: int) -> bool:
    """Signal through a pidfd; False if the process has already exited."""
    try:
        signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        return False
    return True


def reap(pidfd: int) -> None:
    """Reap the process if it is our child (or was re-parented to us as a subreaper); others are their
    parent's (or init's) to reap."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)


def children(pid: int) -> list[int]:
    """The live children of `pid` (its main thread's, which is where fork() puts them)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [int(child) for child in text.split()]


def set_child_subreaper() -> None:
    """Orphans below us get re-parented to us instead of init, so we can kill and reap them."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def unset_child_subreaper() -> None:
    _prctl(_PR_SET_CHILD_SUBREAPER, 0)


def die_with_parent() -> None:
    """SIGKILL this process when its parent thread exits (call in a child between fork and exec)."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl({option}): {os.strerror(error)}")
