"""Starting a keeper: detached in its own session, with nothing of the daemon's but a pipe to report on.

posix_spawn rather than subprocess.Popen: the daemon reaps the keeper itself through a pidfd (see _run.py),
and a Popen object dropped while its child runs would warn and try to reap it too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Mapping
from typing import cast

from . import _proc
from ._files import KeeperFiles, KeeperState
from .errors import SandboxStartError


async def spawn_keeper(python: str, files: KeeperFiles, timeout: float) -> tuple[KeeperState, int]:
    """Start the keeper for `files` and wait for its one-line report. Returns the report (what it wrote to
    keeper.json) and a pidfd of the keeper; raises SandboxStartError with what went wrong."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    err = os.open(files.err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.set_inheritable(ready_w, True)
        argv = [python, "-m", "hyperhive.runtime.keeper", str(files.dir), "--ready-fd", str(ready_w)]
        pid = os.posix_spawn(python, argv, _keeper_env(), setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDWR, 0),
            (os.POSIX_SPAWN_DUP2, 0, 1),
            (os.POSIX_SPAWN_DUP2, err, 2),
        ])
    finally:
        os.close(ready_w)
        os.close(err)
    pidfd = os.pidfd_open(pid)  # our unreaped child: the pid cannot have been reused
    try:
        report = await _read_line(ready_r, timeout)
    finally:
        os.close(ready_r)
    if report.get("ok"):
        return cast(KeeperState, report), pidfd  # keeper.main's ready line: `ok` and keeper.json's content
    silent = not _proc.has_exited(pidfd)
    if silent:  # alive but mute: its sandbox dies with it (--die-with-parent, parent-death signal)
        _proc.send_signal(pidfd, signal.SIGKILL)
    os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    os.close(pidfd)
    raise SandboxStartError(f"sandbox {files.dir.name!r}: {_problem(report, files, silent, timeout)}")


def _problem(report: Mapping[str, object], files: KeeperFiles, silent: bool, timeout: float) -> str:
    if report.get("error") == "busy":
        return "another keeper already runs it"
    if report.get("error"):
        return str(report["error"])
    if silent:
        return f"its keeper did not report within {timeout:g}s and was killed"
    said = files.err.read_text(errors="replace").strip().splitlines()[-5:] if files.err.exists() else []
    return "its keeper ended without a word" + (": " + " / ".join(said) if said else "")


def _keeper_env() -> dict[str, str]:
    """The keeper's own environment: enough to find its Python package, nothing of the daemon's secrets
    (the sandbox's environment reaches it in launch.json)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


async def _read_line(fd: int, timeout: float) -> dict[str, object]:
    """One JSON object on one line from a pipe, without blocking the loop; {} on EOF, timeout or garbage."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    chunks: list[bytes] = []

    def readable() -> None:
        data = os.read(fd, 4096)
        chunks.append(data)
        if (not data or b"\n" in data) and not done.done():
            done.set_result(None)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, timeout)
    finally:
        loop.remove_reader(fd)
    line = b"".join(chunks).split(b"\n", 1)[0]
    try:
        report = json.loads(line) if line else {}
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}
