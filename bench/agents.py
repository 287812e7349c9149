"""Sandboxed agents benchmark against a real hive-c0re on the bwrap runtime.

Prints spawn → ready and revive → ready (from writing the request until the agent's status row shows its
harness `idle`, as pushed by `subscribe_agent_status`: nothing is polled), and the resident memory of 20
and 50 idle agents: PSS (and RSS) summed over each agent's keeper, bwrap and harness processes.

    .venv/bin/python bench/agents.py [--agents 50] [--starts 20] [--runs N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header, parser, report
from tests.support.hive import HiveProcess

from hyperhive.client import AsyncSocketClient, stream
from hyperhive.runtime import _proc
from hyperhive.runtime._files import KeeperFiles, read_json
from hyperhive.runtime.bwrap import BwrapRuntime
from hyperhive.runtime.local import LocalConfig

AGENT_TOML = """name = "{name}"
description = "a benchmark agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = []
network = "private"
"""


class Readiness:
    """Follows the status stream; `ready(name, since)` returns when the row shows the harness idle, with a
    `last_seen` (set by the harness's hello) no older than `since` (so a previous run's row never counts)."""

    def __init__(self, hive: HiveProcess) -> None:
        self.hive = hive
        self._rows: dict[str, tuple[float, dict[str, Any]]] = {}
        self._changed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        subscribed = asyncio.Event()

        async def follow() -> None:
            async for line in stream(self.hive.settings.host_socket, "subscribe_agent_status"):
                subscribed.set()
                for row in line.get("agent_statuses", []):
                    self._rows[row["name"]] = (time.perf_counter(), row)
                    self._changed[row["name"]].set()

        self._task = asyncio.create_task(follow())
        await subscribed.wait()

    async def ready(self, name: str, since_wall: float) -> float:
        """perf_counter time at which the row said so."""
        while True:
            seen = self._rows.get(name)
            if seen is not None and _is_ready(seen[1], since_wall):
                return seen[0]
            self._changed[name].clear()
            await self._changed[name].wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _is_ready(row: dict[str, Any], since_wall: float) -> bool:
    seen = row.get("last_seen")
    fresh = seen is not None and datetime.fromisoformat(seen).timestamp() >= since_wall - 0.001
    return row["state"] == "running" and row["activity"] == "idle" and fresh


async def timed(client: AsyncSocketClient, readiness: Readiness, name: str, cmd: str,
                **fields: Any) -> tuple[float, float]:
    """(request → idle, of which request → sandbox started: the supervisor's `started` event)."""
    wall, started = time.time(), time.perf_counter()
    await client.request(cmd, name=name, **fields)
    total = await readiness.ready(name, wall) - started
    events = (await client.request("events", agent=name, kinds=["started"], limit=5000))["events"]
    up = datetime.fromisoformat(events[-1]["at"]).timestamp() - wall
    return total, up


def agent_processes(runtime_dir: Path, name: str) -> list[int]:
    """The keeper and everything below it: bwrap (outside), the sandbox's init, the harness."""
    state = read_json(KeeperFiles(runtime_dir / "sandboxes" / name).keeper) or {}
    keeper = int(state.get("keeper_pid", 0))
    found, todo = [keeper], [keeper]
    while todo:
        children = _proc.children(todo.pop())
        found += children
        todo += children
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in kB from smaps_rollup; PSS splits each shared page among the processes mapping it."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Pss", "Rss"):
                values[key] = int(rest.split()[0])
    except OSError:
        return 0, 0
    return values.get("Pss", 0), values.get("Rss", 0)


def report_memory(hive: HiveProcess, names: list[str]) -> float:
    """Prints the memory of these idle agents; returns their PSS each, in MB."""
    by_role: dict[str, list[int]] = defaultdict(list)
    pss_total = rss_total = 0
    for name in names:
        for pid in agent_processes(hive.settings.runtime_dir, name):
            pss, rss = memory_kb(pid)
            pss_total += pss
            rss_total += rss
            by_role[_role(pid)].append(pss)
    count = len(names)
    parts = ", ".join(f"{role} {statistics.fmean(v) / 1024:.1f}" for role, v in sorted(by_role.items()))
    print(f"{count} idle agents: PSS {pss_total / 1024:.0f} MB in all, {pss_total / 1024 / count:.1f} MB each "
          f"(RSS {rss_total / 1024 / count:.1f} MB each); mean PSS per process, MB: {parts}")
    return pss_total / 1024 / count


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    argv0 = Path(cmdline.split(b"\0", 1)[0].decode(errors="replace")).name
    if argv0 == "bwrap":  # the outer one and the sandbox's init
        return "bwrap"
    if b"hyperhive.runtime.keeper" in cmdline:
        return "keeper"
    return "harness" if b"hyperhive.cli.ag3nt" in cmdline else "other"


def summary(label: str, samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Prints the figures; returns (p50, p90) in ms."""
    totals = sorted(total for total, _ in samples)
    p90 = totals[min(len(totals) - 1, int(0.9 * len(totals)))]
    up = statistics.median(up for _, up in samples)
    rest = statistics.median(total - up for total, up in samples)
    print(f"{label} over {len(samples)}: p50 {statistics.median(totals) * 1e3:.0f} ms, p90 {p90 * 1e3:.0f} ms, "
          f"best {totals[0] * 1e3:.0f} ms; p50 of the parts: request → sandbox started {up * 1e3:.0f} ms, "
          f"→ harness idle {rest * 1e3:.0f} ms")
    return statistics.median(totals) * 1e3, p90 * 1e3


async def run(hive: HiveProcess, agents: int, starts: int) -> dict[str, float]:
    readiness = Readiness(hive)
    await readiness.start()
    client = AsyncSocketClient(hive.settings.host_socket)
    names = [f"b{i}" for i in range(agents)]
    spawned = []
    figures: dict[str, float] = {}
    for index, name in enumerate(names):
        spawned.append(await timed(client, readiness, name, "spawn", config=AGENT_TOML.format(name=name)))
        if index + 1 in (20, agents):
            figures[f"PSS per idle agent, {index + 1} agents (MB)"] = report_memory(hive, names[: index + 1])
    spawn_p50, spawn_p90 = summary("spawn → idle (config repo seeded, deployed, sandbox started, harness connected)",
                                   spawned)
    revived = []
    for index in range(starts):
        name = names[index % len(names)]
        await client.request("destroy", name=name)  # also closes its connections: the row's activity clears
        revived.append(await timed(client, readiness, name, "revive"))
    revive_p50, revive_p90 = summary("revive → idle (sandbox started, harness connected)", revived)
    await client.request("stop", all=True)
    await client.close()
    await readiness.close()
    return {"spawn → idle p50 (ms)": spawn_p50, "spawn → idle p90 (ms)": spawn_p90,
            "revive → idle p50 (ms)": revive_p50, "revive → idle p90 (ms)": revive_p90, **figures}


async def destroy_all(runtime_dir: Path) -> None:
    runtime = BwrapRuntime(LocalConfig(runtime_dir))
    for handle in await runtime.handles():
        await runtime.adopt(handle)
        await runtime.destroy(handle, timeout=5)


def one_run(agents: int, starts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hhb-", dir="/tmp") as root:
        hive = HiveProcess(Path(root), env={"HYPERHIVE_RUNTIME": "bwrap"})
        hive.log_level = "WARNING"
        hive.start()
        try:
            return asyncio.run(run(hive, agents, starts))
        finally:
            hive.stop()
            asyncio.run(destroy_all(hive.settings.runtime_dir))


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--agents", type=int, default=50)
    args_parser.add_argument("--starts", type=int, default=20)
    args = args_parser.parse_args()
    header(f"agents: a real hive-c0re on the bwrap runtime, {args.agents} spawns, {args.starts} revives")
    _proc.set_child_subreaper()  # keepers outlive the daemon; reap them here at the end
    runs = [one_run(args.agents, args.starts) for _ in range(args.runs)]
    report(runs, lambda key, v: f"{v:.1f} MB" if "MB" in key else f"{v:.0f} ms")


if __name__ == "__main__":
    main()
