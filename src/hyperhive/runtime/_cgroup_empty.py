"""Emptying and removing a run's cgroups: kill what is left in them, wait (on pidfds, not a poll) until it
has exited, then rmdir.

Two kernel details make this more than `kill; rmdir`:
- A SIGKILLed process still sits in the cgroup until it is scheduled to die, which on a loaded host takes a
  while; so each round waits on the pidfds of the processes it killed, and a process forked meanwhile is
  found in the next round.
- A task whose exit is already visible (its pidfd readable, gone from cgroup.procs, even reaped) can still
  count as a member for a moment: recent kernels unlink it from its cgroup only after its last context
  switch. rmdir then fails with EBUSY although nothing is listed, so it is retried a few times with a short
  backoff. Nothing announces that moment (v1 has no event for it), so this one wait is a bounded retry.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import time
from collections.abc import Iterable
from pathlib import Path

KILL_PATIENCE = 5.0  # seconds a killed process may take to exit before we give up on the cgroup
_BUSY_BACKOFF = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # ~0.9 s in all


def kill_all(procs_files: Iterable[str], kill_file: str | None, patience: float = KILL_PATIENCE) -> bool:
    """SIGKILL every process in the cgroups (`cgroup.procs` files; v2's `cgroup.kill` first when there is
    one) and wait until each has exited, at most `patience` seconds (0: signal once, do not wait). True
    when the cgroups are empty."""
    procs_files = list(procs_files)
    if kill_file is not None:
        with contextlib.suppress(OSError):
            Path(kill_file).write_text("1")  # v2: the kernel kills them all at once, forks included
    deadline = time.monotonic() + patience
    while fds := _open_members(procs_files):
        for fd in fds:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        _wait_exited(fds, deadline)
        if time.monotonic() >= deadline:
            return not _members(procs_files)
    return True


def remove_dirs(directories: Iterable[str]) -> list[str]:
    """rmdir each cgroup (already emptied); a sentence per one that could not be removed."""
    return [problem for problem in map(_remove, directories) if problem]


def _remove(directory: str) -> str | None:
    for delay in (0.0, *_BUSY_BACKOFF):
        time.sleep(delay)
        try:
            os.rmdir(directory)
            return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno != errno.EBUSY or _members([os.path.join(directory, "cgroup.procs")]):
                return f"cgroup {directory} was not removed: {exc.strerror}"
    return f"cgroup {directory} was not removed: still busy {sum(_BUSY_BACKOFF):.1f}s after its last process left"


def _members(procs_files: Iterable[str]) -> set[int]:
    pids: set[int] = set()
    for procs in procs_files:
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(pid) for pid in Path(procs).read_text().split())
    return pids


def _open_members(procs_files: list[str]) -> list[int]:
    """pidfds of the cgroups' processes. A pid is confirmed in the cgroup *after* its pidfd is open: if the
    pid was reused in between, the pidfd's process is the one confirmed, or has exited and cannot be hit."""
    listed = _members(procs_files)
    fds: dict[int, int] = {}
    for pid in listed:
        with contextlib.suppress(OSError):
            fds[pid] = os.pidfd_open(pid)
    still = _members(procs_files)
    for pid in [pid for pid in fds if pid not in still]:
        os.close(fds.pop(pid))
    return list(fds.values())


def _wait_exited(fds: list[int], deadline: float) -> None:
    """Block until every pidfd turns readable (its process exited) or the deadline; closes them."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    pending = set(fds)
    try:
        while pending and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                poller.unregister(fd)
                pending.discard(fd)
    finally:
        for fd in fds:
            os.close(fd)
