"""Agents outlive the daemon: a sandbox started by a separate "daemon" process keeps running when that
process is killed with SIGKILL, and a new Runtime adopts it — running, or ended meanwhile with its exit
status — with no zombie, orphan or duplicate left."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyperhive.runtime import SandboxHandle, SandboxSpec, SandboxState, _proc
from hyperhive.runtime._files import KeeperFiles, write_json
from hyperhive.runtime.auto import make_runtime
from hyperhive.runtime.local import LocalConfig

from .conftest import SpecFactory, exited, gone, ready_fifo, sandbox_processes, wait_ready

REPO = Path(__file__).resolve().parents[2]
KINDS = [pytest.param("bwrap", marks=pytest.mark.bwrap), "process"]


class FakeDaemon:
    """A separate process that starts the sandbox, as hive-c0re would."""

    def __init__(self, runtime_dir: Path, kind: str, spec: SandboxSpec) -> None:
        argv = [sys.executable, "-m", "tests.runtime._fake_daemon", str(runtime_dir), kind, json.dumps(spec.to_dict())]
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            pytest.fail(f"the fake daemon failed:\n{self.proc.stderr.read().decode()}")
        self.handle = SandboxHandle.from_json(line.decode())

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_sandbox_outlives_a_killed_daemon_and_is_adopted(
    short_tmp: Path, make_spec: SpecFactory, kind: str
) -> None:
    runtime_dir = short_tmp / "run"
    command = "trap 'echo bye; exit 0' TERM; echo up > ready; while :; do sleep 0.05; done"
    spec = make_spec(["/bin/sh", "-c", command])
    fifo = ready_fifo(spec.state_dir)
    daemon = FakeDaemon(runtime_dir, kind, spec)
    await wait_ready(fifo)
    processes = sandbox_processes(runtime_dir, "alice")
    daemon.kill9()
    assert not gone(*processes[:2]) and _proc.parent_pid(processes[0][0]) == os.getpid()  # re-parented here

    runtime = make_runtime(kind, LocalConfig(runtime_dir))  # the restarted daemon
    status = await runtime.adopt(daemon.handle)
    assert status.state is SandboxState.RUNNING and status.pid is not None
    noticed = asyncio.get_running_loop().create_future()
    runtime.watch(daemon.handle, noticed.set_result)
    info = await runtime.stop(daemon.handle, timeout=10)
    assert info is not None and (info.returncode, info.requested) == (0, True)
    assert await asyncio.wait_for(noticed, 1) == info
    assert "bye" in await runtime.logs(daemon.handle, 5)
    assert gone(*processes), "no keeper, bwrap or command may be left, not even as a zombie"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_sandbox_that_ended_while_no_daemon_ran_is_reported(
    short_tmp: Path, make_spec: SpecFactory, kind: str
) -> None:
    runtime_dir = short_tmp / "run"
    spec = make_spec(["/bin/sh", "-c", "echo up > ready; read x < go; exit 7"])
    ready, go = ready_fifo(spec.state_dir, "ready"), ready_fifo(spec.state_dir, "go")
    daemon = FakeDaemon(runtime_dir, kind, spec)
    await wait_ready(ready)
    processes = sandbox_processes(runtime_dir, "alice")
    daemon.kill9()
    await asyncio.to_thread(go.write_text, "now\n")  # the command exits 7 with nobody watching
    await exited(processes[0][0])

    runtime = make_runtime(kind, LocalConfig(runtime_dir))
    status = await runtime.adopt(daemon.handle)
    assert status.state is SandboxState.EXITED
    assert status.exit is not None and (status.exit.returncode, status.exit.requested) == (7, False)
    assert await asyncio.wait_for(runtime.wait_exit(daemon.handle), 1) == status.exit
    assert gone(*processes)


@pytest.mark.bwrap
async def test_a_recycled_keeper_pid_is_not_taken_for_the_keeper(short_tmp: Path, make_spec: SpecFactory) -> None:
    """keeper.json names a pid that now belongs to another process (here: this test): the runtime must see
    the keeper as gone, and never signal that process."""
    runtime = make_runtime("bwrap", LocalConfig(short_tmp / "run"))
    handle = await runtime.create(make_spec(["/bin/true"]))
    me = os.getpid()
    write_json(KeeperFiles(Path(handle.ref)).keeper, {
        "keeper_pid": me, "keeper_start": (_proc.start_time(me) or 0) - 1, "sandbox_pid": me,
        "sandbox_start": (_proc.start_time(me) or 0) - 1, "started_at": 0.0})
    status = await runtime.adopt(handle)
    assert status.state is SandboxState.EXITED
    assert status.exit is not None and "keeper died" in status.exit.detail
    assert await runtime.stop(handle, timeout=1) == status.exit  # and no SIGTERM reached us
