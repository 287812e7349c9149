"""Dashboard benchmark: how long an event takes to reach an open page, with 50 agents and a burst.

A real `hive-c0re` subprocess with N registered agents (peers; clients on their `mcp.sock` send as them)
and headless Chromium with two tabs open: /flow (the message tail) and /swarm (every agent's row). Each
message's send time is noted (wall clock); the pages' `window.hiveApplied` hook (called by core.js right
after a page applied an update) stamps it in the next animation frame, when the page's per-frame redraw has
run and the frame is about to be painted. Latency is the difference (one host, one clock):

- flow: from `send` to the message's line in the tail;
- swarm: from `send` to the recipient's row showing an unread count that includes it (status rows are
  coalesced per agent, so one row update may carry several messages).

First single messages one at a time (an idle hive), then a burst: every agent sends its share at once.

    .venv/bin/python bench/dashboard.py [--agents 50] [--messages 1000] [--singles 100] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header, parser, report
from playwright.async_api import async_playwright
from tests.support.hive import HiveProcess

from hyperhive.client import AsyncSocketClient

CHROMIUM = os.environ.get("HYPERHIVE_CHROMIUM", "/usr/bin/chromium")
# Stamped in the first animation frame after the update was applied: the page's own per-frame redraw was
# asked for first, so by then the DOM shows it and the frame is about to be painted.
FRAME_STAMP = """
    window.pending = [];
    const stamp = () => {
        const at = performance.timeOrigin + performance.now();
        for (const record of window.pending.splice(0)) record(at);
    };
    const later = (record) => {
        if (!window.pending.length) requestAnimationFrame(stamp);
        window.pending.push(record);
    };
"""
FLOW_HOOK = """() => {""" + FRAME_STAMP + """
    window.flowSeen = {};
    window.hiveApplied = (topic, data) => {
        const match = topic === "message" && /^bench (\\d+) /.exec(data.body);
        if (match) later((at) => { window.flowSeen[match[1]] = at; });
    };
}"""
SWARM_HOOK = """() => {""" + FRAME_STAMP + """
    window.rowsSeen = [];
    window.hiveApplied = (topic, data) => {
        if (topic === "status" && data.row) later((at) => window.rowsSeen.push([data.row.name, data.row.unread, at]));
    };
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def describe(name: str, samples: list[float]) -> str:
    return (f"{name:<34} n={len(samples):<5} p50 {percentile(samples, 0.5):7.1f} ms   "
            f"p95 {percentile(samples, 0.95):7.1f} ms   max {max(samples):7.1f} ms   "
            f"mean {statistics.fmean(samples):6.1f} ms")


class Sent:
    """What was sent: per message, its sender, recipient and wall-clock send time (ms)."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.to: dict[int, str] = {}

    def body(self, key: int, recipient: str) -> str:
        self.to[key] = recipient
        self.at[key] = time.time() * 1000
        return f"bench {key} to {recipient}"


async def send_one(client: AsyncSocketClient, sent: Sent, key: int, recipient: str) -> None:
    await client.request("send", to=recipient, body=sent.body(key, recipient))


async def wait_flow(flow: Any, keys: list[int], timeout: float) -> dict[int, float]:
    wanted = [str(k) for k in keys]
    await flow.wait_for_function("(keys) => keys.every((k) => window.flowSeen[k])", arg=wanted,
                                 timeout=timeout * 1000, polling=50)
    seen: dict[str, float] = await flow.evaluate("(keys) => Object.fromEntries(keys.map((k) => [k, "
                                                 "window.flowSeen[k]]))", wanted)
    return {int(k): v for k, v in seen.items()}


async def singles(hive: HiveProcess, flow: Any, clients: list[AsyncSocketClient], names: list[str], sent: Sent,
                  count: int) -> list[float]:
    samples = []
    for key in range(count):
        index = key % len(clients)
        await send_one(clients[index], sent, key, names[(index + 1) % len(names)])
        seen = await wait_flow(flow, [key], 10)
        samples.append(seen[key] - sent.at[key])
    return samples


async def burst(clients: list[AsyncSocketClient], names: list[str], sent: Sent, first: int, total: int) -> list[int]:
    """Every agent sends its share to the next agent, all at once; returns the keys in send order."""
    share = total // len(clients)

    async def run(index: int) -> list[int]:
        keys = [first + index * share + i for i in range(share)]
        for key in keys:
            await send_one(clients[index], sent, key, names[(index + 1) % len(names)])
        return keys

    started = time.perf_counter()
    per_agent = await asyncio.gather(*(run(i) for i in range(len(clients))))
    elapsed = time.perf_counter() - started
    print(f"burst: {share * len(clients)} messages sent by {len(clients)} agents in {elapsed * 1000:.0f} ms")
    return [k for keys in per_agent for k in keys]


def swarm_latencies(rows: list[list[Any]], sent: Sent, keys: list[int], baseline: dict[str, int]) -> list[float]:
    """For the j-th message to an agent, the first row update showing at least baseline + j unread."""
    shown: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for name, unread, at in rows:
        shown[name].append((unread, at))
    nth: dict[str, int] = defaultdict(int)
    samples = []
    for key in sorted(keys, key=lambda k: sent.at[k]):
        recipient = sent.to[key]
        nth[recipient] += 1
        need = baseline[recipient] + nth[recipient]
        at = next((t for unread, t in shown[recipient] if unread >= need), None)
        if at is not None:
            samples.append(at - sent.at[key])
    return samples


async def window(browser: Any, login: str, path: str) -> Any:
    """A page in its own window: a background tab would get one animation frame a second."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(login)
    await page.goto(page.url.rsplit("/", 1)[0] + path)
    return page


async def run(hive: HiveProcess, names: list[str], args: argparse.Namespace) -> dict[str, float]:
    login = hive.host.request("dashboard_url")["url"]
    clients = [AsyncSocketClient(hive.agent_socket(name)) for name in names]
    for client in clients:
        await client.connect()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        flow, swarm = await window(browser, login, "/flow"), await window(browser, login, "/swarm")
        for page, hook in ((flow, FLOW_HOOK), (swarm, SWARM_HOOK)):
            await page.wait_for_function("document.getElementById('live').className === 'live on'")
            await page.evaluate(hook)

        sent = Sent()
        idle = await singles(hive, flow, clients, names, sent, args.singles)
        print(describe("idle, one message at a time: flow", idle))

        rows = hive.host.request("agent_status")["agent_statuses"]
        baseline = {row["name"]: row["unread"] for row in rows}
        await swarm.evaluate("() => { window.rowsSeen = []; }")
        keys = await burst(clients, names, sent, args.singles, args.messages)
        seen = await wait_flow(flow, keys, 120)
        flow_ms = [seen[k] - sent.at[k] for k in keys]
        last = max(sent.at[k] for k in keys)
        print(describe(f"burst of {len(keys)}: flow", flow_ms))
        final = {name: baseline[name] + sum(1 for k in keys if sent.to[k] == name) for name in names}
        await swarm.wait_for_function("(final) => Object.entries(final).every(([name, n]) => window.rowsSeen.some("
                                      "([row, unread]) => row === name && unread >= n))", arg=final, timeout=120_000,
                                      polling=100)
        row_updates = await swarm.evaluate("window.rowsSeen")
        swarm_ms = swarm_latencies(row_updates, sent, keys, baseline)
        print(describe(f"burst of {len(keys)}: swarm rows", swarm_ms))
        drained = max(max(seen.values()), max(at for _, _, at in row_updates)) - last
        print(f"the pages had everything {drained:.0f} ms after the last send; the swarm applied "
              f"{len(row_updates)} row updates for {len(keys)} messages (coalesced per agent)")
        await browser.close()
    for client in clients:
        await client.close()
    return {"one at a time, flow p50": percentile(idle, 0.5), "one at a time, flow p95": percentile(idle, 0.95),
            "burst, flow p50": percentile(flow_ms, 0.5), "burst, flow p95": percentile(flow_ms, 0.95),
            "burst, swarm rows p50": percentile(swarm_ms, 0.5), "burst, swarm rows p95": percentile(swarm_ms, 0.95)}


def one_run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hhd-", dir="/tmp") as root:
        hive = HiveProcess(Path(root))
        hive.log_level = "WARNING"
        hive.start()
        try:
            names = [f"a{i:02d}" for i in range(args.agents)]
            for name in names:
                hive.host.request("register_peer", name=name)
            return asyncio.run(run(hive, names, args))
        finally:
            hive.stop()


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--agents", type=int, default=50)
    args_parser.add_argument("--messages", type=int, default=1000)
    args_parser.add_argument("--singles", type=int, default=100)
    args = args_parser.parse_args()
    header(f"dashboard: Chromium {CHROMIUM}; {args.agents} agents; bursts of {args.messages}")
    runs = [one_run(args) for _ in range(args.runs)]
    report(runs, lambda _, v: f"{v:.0f} ms")


if __name__ == "__main__":
    main()
