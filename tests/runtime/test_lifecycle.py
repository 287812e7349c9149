"""Start, exit, stop, kill and logs of real bwrap sandboxes, with every exit noticed through the watcher
(no sleeping, no polling) and no process left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from hyperhive.runtime import ExitInfo, SandboxBusy, SandboxStartError, SandboxState
from hyperhive.runtime.bwrap import BwrapRuntime
from hyperhive.runtime.local import LocalConfig

from .conftest import PYTHON, SpecFactory, gone, ready_fifo, sandbox_processes, wait_ready

pytestmark = pytest.mark.bwrap


async def test_exit_is_noticed_at_once_with_its_code(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    script = "import time; open('/hive/state/t', 'w').write(repr(time.time())); raise SystemExit(5)"
    spec = make_spec([PYTHON, "-c", script])
    handle = await bwrap_runtime.create(spec)
    await bwrap_runtime.start(handle)
    noticed: asyncio.Future[tuple[ExitInfo, float]] = asyncio.get_running_loop().create_future()
    bwrap_runtime.watch(handle, lambda info: noticed.set_result((info, time.time())))
    info, at = await asyncio.wait_for(noticed, 10)
    ended_in_sandbox = float((spec.state_dir / "t").read_text())
    assert (info.returncode, info.signal, info.requested) == (5, None, False)
    assert at - ended_in_sandbox < 1.0, f"exit noticed {at - ended_in_sandbox:.3f}s after the command ended"
    status = await bwrap_runtime.status(handle)
    assert status.state is SandboxState.EXITED and status.exit == info


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGKILL, "SIGKILL"), (signal.SIGTERM, "SIGTERM")])
async def test_death_by_signal_is_recorded(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory, signum: int, name: str
) -> None:
    handle = await bwrap_runtime.create(make_spec(["/bin/sh", "-c", f"kill -{name[3:]} $$"]))
    await bwrap_runtime.start(handle)
    info = await asyncio.wait_for(bwrap_runtime.wait_exit(handle), 10)
    assert (info.returncode, info.signal) == (None, signum)
    assert info.describe() == f"killed by {name}"


async def test_stop_sends_sigterm_to_the_command(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    spec = make_spec(["/bin/sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo up > /hive/state/ready; "
                                       "while :; do sleep 0.05; done"])
    fifo = ready_fifo(spec.state_dir)
    handle = await bwrap_runtime.create(spec)
    await bwrap_runtime.start(handle)
    await wait_ready(fifo)
    processes = sandbox_processes(bwrap_runtime.root.parent, "alice")
    started = time.monotonic()
    info = await bwrap_runtime.stop(handle, timeout=10)
    assert info is not None and (info.returncode, info.requested) == (7, True)
    assert time.monotonic() - started < 5
    assert "got TERM" in await bwrap_runtime.logs(handle, 5)
    assert (await bwrap_runtime.status(handle)).state is SandboxState.STOPPED
    assert gone(*processes)


async def test_stop_kills_a_command_that_ignores_sigterm_after_the_timeout(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory
) -> None:
    spec = make_spec(["/bin/sh", "-c", "trap '' TERM; echo up > /hive/state/ready; while :; do sleep 0.05; done"])
    fifo = ready_fifo(spec.state_dir)
    handle = await bwrap_runtime.create(spec)
    await bwrap_runtime.start(handle)
    await wait_ready(fifo)
    processes = sandbox_processes(bwrap_runtime.root.parent, "alice")
    started = time.monotonic()
    info = await bwrap_runtime.stop(handle, timeout=0.5)
    elapsed = time.monotonic() - started
    assert info is not None and (info.signal, info.requested, info.detail) == (signal.SIGKILL, True, "")
    assert 0.5 <= elapsed < 5, f"stop took {elapsed:.2f}s"
    assert gone(*processes)


async def test_kill_is_immediate(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    spec = make_spec(["/bin/sh", "-c", "trap '' TERM; echo up > /hive/state/ready; sleep 600"])
    fifo = ready_fifo(spec.state_dir)
    handle = await bwrap_runtime.create(spec)
    await bwrap_runtime.start(handle)
    await wait_ready(fifo)
    processes = sandbox_processes(bwrap_runtime.root.parent, "alice")
    started = time.monotonic()
    info = await bwrap_runtime.kill(handle)
    assert info is not None and (info.signal, info.requested, info.detail) == (signal.SIGKILL, True, "")
    assert time.monotonic() - started < 2
    assert gone(*processes)


async def test_a_running_sandbox_cannot_be_started_or_created_twice(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory
) -> None:
    spec = make_spec(["/bin/sh", "-c", "echo up > ready; exec sleep 600"])
    fifo = ready_fifo(spec.state_dir)
    handle = await bwrap_runtime.create(spec)
    await bwrap_runtime.start(handle)
    await wait_ready(fifo)  # the command exists: start() returns once the sandbox does, a moment earlier
    processes = sandbox_processes(bwrap_runtime.root.parent, "alice")
    with pytest.raises(SandboxBusy):
        await bwrap_runtime.start(handle)
    with pytest.raises(SandboxBusy):
        await bwrap_runtime.create(spec)
    assert sandbox_processes(bwrap_runtime.root.parent, "alice") == processes  # no second keeper
    await bwrap_runtime.destroy(handle, timeout=5)
    assert gone(*processes)
    assert (await bwrap_runtime.status(handle)).state is SandboxState.ABSENT


async def test_a_sandbox_restarts_from_its_handle(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    handle = await bwrap_runtime.create(make_spec(["/bin/sh", "-c", "echo run"]))
    for _ in range(2):
        await bwrap_runtime.start(handle)
        assert (await asyncio.wait_for(bwrap_runtime.wait_exit(handle), 10)).returncode == 0
    assert (await bwrap_runtime.logs(handle, 10)).count("run") == 2


async def test_a_keeper_killed_by_sigkill_takes_its_sandbox_along(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory
) -> None:
    """If the keeper is SIGKILLed (OOM killer, an operator), bwrap's --die-with-parent ends the sandbox, and
    the watcher still reports the end, saying the record was lost."""
    handle = await bwrap_runtime.create(make_spec(["/bin/sleep", "600"]))
    status = await bwrap_runtime.start(handle)
    processes = sandbox_processes(bwrap_runtime.root.parent, "alice")
    keeper = processes[0][0]
    assert status.pid is not None and keeper != status.pid
    os.kill(keeper, signal.SIGKILL)
    info = await asyncio.wait_for(bwrap_runtime.wait_exit(handle), 10)
    assert (info.returncode, info.signal) == (None, None)
    assert "keeper died" in info.detail
    assert (await bwrap_runtime.status(handle)).state is SandboxState.EXITED


async def test_a_sandbox_that_cannot_be_set_up_ends_at_once_saying_why(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory, short_tmp: Path
) -> None:
    """bwrap reports its pid before it sets up mounts, so a setup failure is an exit right after start; the
    exit says it was bwrap's, not the command's."""
    tools = short_tmp / "tools"
    tools.mkdir()
    handle = await bwrap_runtime.create(make_spec(["/bin/true"], ro_paths=(tools,)))
    tools.rmdir()  # gone between create and start
    await bwrap_runtime.start(handle)
    info = await asyncio.wait_for(bwrap_runtime.wait_exit(handle), 10)
    assert info.returncode == 1
    assert "bwrap could not set up the sandbox" in info.detail and "Can't find source path" in info.detail


async def test_a_command_that_fails_is_not_a_setup_failure(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    handle = await bwrap_runtime.create(make_spec(["/bin/sh", "-c", "echo 'bwrap: not really'; exit 1"]))
    await bwrap_runtime.start(handle)
    info = await asyncio.wait_for(bwrap_runtime.wait_exit(handle), 10)
    assert (info.returncode, info.detail) == (1, "")


async def test_logs_rotate_by_size_and_tail_across_files(short_tmp: Path, make_spec: SpecFactory) -> None:
    runtime = BwrapRuntime(LocalConfig(short_tmp / "run", log_max_bytes=2000, log_backups=2))
    spec = make_spec(["/usr/bin/seq", "1", "3000"])
    handle = await runtime.create(spec)
    await runtime.start(handle)
    assert (await asyncio.wait_for(runtime.wait_exit(handle), 10)).returncode == 0
    log_dir = spec.log_path.parent
    assert sorted(p.name for p in log_dir.iterdir()) == ["harness.log", "harness.log.1", "harness.log.2"]
    assert all(p.stat().st_size <= 2000 for p in log_dir.iterdir())
    tail = await runtime.logs(handle, 6)
    assert tail[:5] == ["2996", "2997", "2998", "2999", "3000"]
    assert tail[5].endswith("sandbox alice ended: code 0")
    from hyperhive.core.logs import tail_lines as core_tail

    assert core_tail(spec.log_path, 6) == tail  # the daemon's reader agrees with the runtime's


async def test_a_bwrap_that_cannot_create_namespaces_fails_the_start(short_tmp: Path, make_spec: SpecFactory) -> None:
    """bwrap dies before it clones (no user namespaces, say): start() raises with bwrap's own words, and the
    sandbox is left ended, not running."""
    fake = short_tmp / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    runtime = BwrapRuntime(LocalConfig(short_tmp / "run"), bwrap=str(fake))
    handle = await runtime.create(make_spec(["/bin/true"]))
    with pytest.raises(SandboxStartError, match="Creating new namespace failed: Operation not permitted"):
        await runtime.start(handle)
    status = await runtime.status(handle)
    assert status.state is SandboxState.EXITED and status.exit is not None and status.exit.returncode == 1


async def test_a_stop_right_after_start_ends_the_sandbox(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    """A stop that arrives before bwrap has started the command has nothing to end gracefully: the sandbox is
    killed, and the exit says so."""
    handle = await bwrap_runtime.create(make_spec(["/bin/sleep", "600"]))
    await bwrap_runtime.start(handle)
    processes = sandbox_processes(bwrap_runtime.root.parent, "alice")
    info = await bwrap_runtime.stop(handle, timeout=5)
    assert info is not None and info.requested and info.signal in (signal.SIGTERM, signal.SIGKILL)
    assert info.detail in ("", "stopped before the command started")
    assert gone(*processes)
