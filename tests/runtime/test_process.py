"""The process backend: no isolation, said out loud; the same keeper life as bwrap; and nothing the command
started outlives it, not even a child that left the process group."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from hyperhive.runtime import Limits, Mount, RuntimeUnavailable, SandboxState
from hyperhive.runtime._files import KeeperFiles, read_json
from hyperhive.runtime.auto import make_runtime
from hyperhive.runtime.local import LocalConfig
from hyperhive.runtime.process import ProcessRuntime
from tests.support.needs import require_cgroup

from .conftest import SpecFactory, exited, gone, identity, ready_fifo, sandbox_processes, wait_ready


async def test_warning_and_what_cannot_be_applied_are_reported(
    process_runtime: ProcessRuntime, make_spec: SpecFactory, short_tmp: Path
) -> None:
    assert process_runtime.warning and "does not isolate" in process_runtime.warning
    spec = make_spec(["/usr/bin/env"], env={"ONLY": "this"}, mounts=(Mount(short_tmp, "/data"),))
    handle = await process_runtime.create(spec)
    status = await process_runtime.start(handle)
    assert status.warning == process_runtime.warning
    assert status.limits is not None
    assert any(s.startswith("network:") for s in status.limits.unapplied)
    assert any(s.startswith("mounts:") for s in status.limits.unapplied)
    assert (await asyncio.wait_for(process_runtime.wait_exit(handle), 10)).returncode == 0
    env = {line.partition("=")[0]: line.partition("=")[2] for line in await process_runtime.logs(handle, 10)
           if "=" in line and not line.startswith("[hyperhive")}
    assert env == {"ONLY": "this", "HOME": str(spec.state_dir)}
    assert (await process_runtime.status(handle)).warning == process_runtime.warning


async def test_view_is_the_host_paths(process_runtime: ProcessRuntime, short_tmp: Path) -> None:
    view = process_runtime.view(short_tmp / "state", short_tmp / "sock")
    assert (view.home, view.sockets) == (str(short_tmp / "state"), str(short_tmp / "sock"))


async def test_stop_leaves_no_child_behind(process_runtime: ProcessRuntime, make_spec: SpecFactory) -> None:
    command = ("sleep 300 & echo $! > bg; setsid sleep 300 & echo $! >> bg; "
               "echo up > ready; wait")
    spec = make_spec(["/bin/sh", "-c", command])
    fifo = ready_fifo(spec.state_dir)
    handle = await process_runtime.create(spec)
    await process_runtime.start(handle)
    await wait_ready(fifo)
    processes = sandbox_processes(process_runtime.root.parent, "alice")
    background = [identity(int(pid)) for pid in (spec.state_dir / "bg").read_text().split()]
    assert not gone(*background)
    info = await process_runtime.stop(handle, timeout=5)
    assert info is not None and info.requested
    assert (await process_runtime.status(handle)).state is SandboxState.STOPPED
    assert gone(*processes, *background), "the keeper must kill what the command left, even in another session"


def test_unknown_and_planned_runtimes_are_refused(short_tmp: Path) -> None:
    with pytest.raises(RuntimeUnavailable, match="not implemented yet"):
        make_runtime("podman", LocalConfig(short_tmp))
    with pytest.raises(RuntimeUnavailable, match="unknown runtime"):
        make_runtime("docker", LocalConfig(short_tmp))
    assert isinstance(make_runtime("process", LocalConfig(short_tmp)), ProcessRuntime)


async def test_a_killed_keeper_leaves_nothing_when_a_cgroup_holds_the_run(
    process_runtime: ProcessRuntime, make_spec: SpecFactory
) -> None:
    """Without a pid namespace, a background job of the command would outlive a SIGKILLed keeper; the run's
    cgroup lets the daemon find and kill it."""
    spec = make_spec(["/bin/sh", "-c", "sleep 300 & echo $! > bg; echo up > ready; wait"], limits=Limits(pids=100))
    fifo = ready_fifo(spec.state_dir)
    handle = await process_runtime.create(spec)
    status = await process_runtime.start(handle)
    assert status.limits is not None
    if not status.limits.applied.get("pids", "").startswith("cgroup"):
        await process_runtime.kill(handle)
        require_cgroup(status.limits.applied, status.limits.unapplied)
    await wait_ready(fifo)
    processes = sandbox_processes(process_runtime.root.parent, "alice")
    background = int((spec.state_dir / "bg").read_text())
    os.kill(processes[0][0], signal.SIGKILL)
    info = await asyncio.wait_for(process_runtime.wait_exit(handle), 10)
    assert "keeper died" in info.detail
    await exited(background, timeout=5)  # killed by the daemon through the cgroup (a zombie of ours now)
    groups = (read_json(KeeperFiles(Path(handle.ref)).launch) or {})["limits"]["cgroup_dirs"]
    await process_runtime.destroy(handle)
    assert groups and not any(Path(group).exists() for group in groups)
