"""Sandbox benchmark: the bwrap runtime (real bubblewrap, real keeper processes), no hive.

Prints, per run, the median over N sandboxes of: `start()` until it returns (keeper up, bwrap started);
a command's exit until the runtime's `watch` callback (the command writes its clock to its home just before
exiting; the callback is pidfd-driven); `stop()` of a command that handles SIGTERM (ready when it said so on
a FIFO); and the keeper's resident memory while its sandbox runs.

    .venv/bin/python bench/sandboxes.py [--sandboxes N] [--runs N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header, parser, report

from hyperhive.runtime import ExitInfo, Limits, SandboxSpec, _proc
from hyperhive.runtime._files import KeeperFiles, read_json
from hyperhive.runtime.bwrap import BwrapRuntime, probe_bwrap
from hyperhive.runtime.local import LocalConfig
from hyperhive.runtime.paths import python_paths

PYTHON = os.path.realpath(sys.executable)
EXIT_NOW = "import time; open('/hive/state/t', 'w').write(repr(time.time()))"
TERM_AWARE = ("import signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
              "open('/hive/state/ready', 'w').write('up\\n'); signal.pause()")


def spec(root: Path, name: str, argv: list[str]) -> SandboxSpec:
    return SandboxSpec(name=name, argv=tuple(argv), state_dir=root / "state" / name, socket_dir=root / "sock" / name,
                       log_path=root / "logs" / name / "harness.log", env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
                       ro_paths=python_paths(), limits=Limits())


def keeper_rss_mb(runtime_dir: Path, name: str) -> float:
    state = read_json(KeeperFiles(runtime_dir / "sandboxes" / name).keeper) or {}
    status = Path(f"/proc/{int(state['keeper_pid'])}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024


async def exit_sample(runtime: BwrapRuntime, root: Path, name: str) -> tuple[float, float]:
    """(start() seconds, exit → callback seconds)."""
    the_spec = spec(root, name, [PYTHON, "-c", EXIT_NOW])
    handle = await runtime.create(the_spec)
    loop = asyncio.get_running_loop()
    noticed: asyncio.Future[float] = loop.create_future()
    started = time.perf_counter()
    await runtime.start(handle)
    start_took = time.perf_counter() - started
    runtime.watch(handle, lambda _info: noticed.done() or noticed.set_result(time.time()))
    at = await asyncio.wait_for(noticed, 30)
    ended = float((the_spec.state_dir / "t").read_text())
    await runtime.destroy(handle)
    return start_took, at - ended


async def stop_sample(runtime: BwrapRuntime, root: Path, name: str) -> tuple[float, float]:
    """(stop() seconds, keeper RSS MB)."""
    the_spec = spec(root, name, [PYTHON, "-c", TERM_AWARE])
    the_spec.state_dir.mkdir(parents=True, exist_ok=True)
    fifo = the_spec.state_dir / "ready"
    os.mkfifo(fifo)
    handle = await runtime.create(the_spec)
    await runtime.start(handle)
    await asyncio.wait_for(asyncio.to_thread(fifo.read_text), 30)  # it handles SIGTERM from here on
    rss = keeper_rss_mb(runtime.config.runtime_dir, name)
    started = time.perf_counter()
    info: ExitInfo | None = await runtime.stop(handle, timeout=10)
    took = time.perf_counter() - started
    assert info is not None and info.returncode == 0, info
    await runtime.destroy(handle)
    return took, rss


async def one_run(root: Path, count: int) -> dict[str, float]:
    runtime = BwrapRuntime(LocalConfig(root / "run"))
    starts, notices, stops, rss = [], [], [], []
    for i in range(count):
        start_took, notice = await exit_sample(runtime, root, f"x{i}")
        starts.append(start_took)
        notices.append(notice)
        stop_took, keeper = await stop_sample(runtime, root, f"s{i}")
        stops.append(stop_took)
        rss.append(keeper)
    return {"start()": statistics.median(starts), "exit → on_exit callback": statistics.median(notices),
            "stop() of a SIGTERM-aware command": statistics.median(stops), "keeper RSS (MB)": statistics.median(rss)}


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--sandboxes", type=int, default=10, help="sandboxes of each kind per run")
    args = args_parser.parse_args()
    problem = probe_bwrap()
    if problem:
        raise SystemExit(f"bwrap cannot create namespaces here: {problem}")
    version = os.popen("bwrap --version").read().strip()
    header(f"sandboxes: {version}, bwrap runtime, {args.sandboxes} sandboxes of each kind per run")
    _proc.set_child_subreaper()  # reap keepers like init would
    runs = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hhb-", dir="/tmp") as root:
            runs.append(asyncio.run(one_run(Path(root), args.sandboxes)))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in runs[-1].items()), flush=True)
    report(runs, lambda key, v: f"{v:.1f} MB" if "MB" in key else f"{v * 1000:.1f} ms")


if __name__ == "__main__":
    main()
