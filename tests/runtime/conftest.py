"""Fixtures for the runtime tests: real bwrap sandboxes and keepers in short temp dirs, and checks that no
process of theirs is left behind."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperhive.runtime import Limits, Mount, SandboxSpec, _proc
from hyperhive.runtime.bwrap import BwrapRuntime, probe_bwrap
from hyperhive.runtime.local import KeeperRuntime, LocalConfig
from hyperhive.runtime.paths import python_paths
from hyperhive.runtime.process import ProcessRuntime
from tests.support.needs import require_bwrap
from tests.support.reaper import acting_as_init

PYTHON = os.path.realpath(sys.executable)
SpecFactory = Callable[..., SandboxSpec]


@pytest.fixture(scope="session")
def bwrap_problem() -> str | None:
    return probe_bwrap()


@pytest.fixture(autouse=True)
def _skip_without_bwrap(request: pytest.FixtureRequest, bwrap_problem: str | None) -> None:
    if request.node.get_closest_marker("bwrap") and bwrap_problem:
        require_bwrap()


@pytest.fixture(autouse=True)
def subreaper() -> Iterator[None]:
    """Stand in for init or systemd, as on a real host (tests/support/reaper.py)."""
    with acting_as_init():
        yield


@pytest.fixture
def make_spec(short_tmp: Path) -> SpecFactory:
    """A spec for agent `name` in short_tmp; keyword arguments override fields."""

    def make(argv: tuple[str, ...] | list[str], name: str = "alice", **fields: Any) -> SandboxSpec:
        values: dict[str, Any] = {
            "name": name,
            "argv": tuple(argv),
            "state_dir": short_tmp / "state" / "agents" / name / "state",
            "socket_dir": short_tmp / "run" / "agents" / name,
            "log_path": short_tmp / "state" / "logs" / name / "harness.log",
            "env": {"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
            "ro_paths": python_paths(),
            "limits": Limits(),
            **fields,
        }
        return SandboxSpec(**values)

    return make


@pytest.fixture
def bwrap_runtime(short_tmp: Path) -> BwrapRuntime:
    return BwrapRuntime(LocalConfig(short_tmp / "run"))


@pytest.fixture
def process_runtime(short_tmp: Path) -> ProcessRuntime:
    return ProcessRuntime(LocalConfig(short_tmp / "run"))


def mount(source: Path, target: str, writable: bool = False) -> Mount:
    return Mount(source, target, writable)


def fresh(runtime: KeeperRuntime) -> KeeperRuntime:
    """Another instance over the same runtime dir: what a restarted daemon would build."""
    return type(runtime)(runtime.config)


def identity(pid: int) -> tuple[int, int | None]:
    return pid, _proc.start_time(pid)


def gone(*processes: tuple[int, int | None]) -> bool:
    """True when none of the processes exists any more, not even as a zombie (a pid with another start
    time is another process)."""
    return all(_proc.start_time(pid) != started for pid, started in processes)


def sandbox_processes(runtime_dir: Path, name: str) -> list[tuple[int, int | None]]:
    """Keeper, bwrap, the sandbox's pid 1 and its children: every process of a running sandbox."""
    from hyperhive.runtime._files import KeeperFiles, read_json

    state = read_json(KeeperFiles(runtime_dir / "sandboxes" / name).keeper) or {}
    keeper = int(state["keeper_pid"])
    found = [keeper, *_proc.children(keeper)]
    sandbox = int(state["sandbox_pid"])
    found += [sandbox, *_proc.children(sandbox)]
    return [identity(pid) for pid in dict.fromkeys(found)]


def ready_fifo(state_dir: Path, name: str = "ready") -> Path:
    """A FIFO in the state dir: the sandbox writes a line when it is ready, and the test blocks on reading
    it (a readiness signal, not a sleep)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / name
    os.mkfifo(path)
    return path


async def wait_ready(fifo: Path, timeout: float = 10.0) -> str:
    try:
        return await asyncio.wait_for(asyncio.to_thread(fifo.read_text), timeout)
    except TimeoutError:
        with open(fifo, "w"):  # unblock the reader thread before failing
            pass
        raise


async def exited(pid: int, timeout: float = 10) -> None:
    """Wait (through a pidfd, no polling) until `pid` has exited; a zombie counts."""
    fd = os.pidfd_open(pid)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
