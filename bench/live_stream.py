"""Live transcript benchmark through the real path: a harness's `report` on its agent socket → hive-c0re
stores the event → the dashboard's SSE stream → the agent page in headless Chromium applies it.

A real `hive-c0re` subprocess with one registered agent (a peer: the benchmark speaks as its harness on its
`mcp.sock`); /agents/<name> open in Chromium. Each `report` carries one `note` event; its send time is noted
(wall clock) and the page's `window.hiveApplied` hook stamps it in the next animation frame after the page
applied it (bench/dashboard.py explains the stamp). One host, one clock. Notes go one at a time (each waits
for the previous to show), then as a burst.

    .venv/bin/python bench/live_stream.py [--notes N] [--burst N] [--runs N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header, parser, report
from bench.dashboard import CHROMIUM, FRAME_STAMP, percentile, window
from playwright.async_api import async_playwright
from tests.support.hive import HiveProcess

from hyperhive.client import AsyncSocketClient

NOTE_HOOK = """() => {""" + FRAME_STAMP + """
    window.notesSeen = {};
    window.hiveApplied = (topic, data) => {
        const note = topic === "turn" && data.kind === "turn.note";
        const text = note ? (data.items || []).map((i) => i.text).join("") : "";
        const match = /^live (\\d+)$/.exec(text);
        if (match) later((at) => { window.notesSeen[match[1]] = at; });
    };
}"""


async def wait_seen(page: Any, keys: list[int], timeout: float) -> dict[int, float]:
    wanted = [str(k) for k in keys]
    await page.wait_for_function("(keys) => keys.every((k) => window.notesSeen[k])", arg=wanted,
                                 timeout=timeout * 1000, polling="raf")
    seen: dict[str, float] = await page.evaluate("(keys) => Object.fromEntries(keys.map((k) => [k, "
                                                 "window.notesSeen[k]]))", wanted)
    return {int(k): v for k, v in seen.items()}


async def note(harness: AsyncSocketClient, key: int, sent: dict[int, float]) -> None:
    sent[key] = time.time() * 1000
    await harness.request("report", events=[{"kind": "note", "payload": {"text": f"live {key}"}}])


async def measure(hive: HiveProcess, notes: int, burst: int) -> dict[str, float]:
    login = hive.host.request("dashboard_url")["url"]
    harness = AsyncSocketClient(hive.agent_socket("bench"))
    await harness.request("hello", role="harness")
    sent: dict[int, float] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await window(browser, login, "/agents/bench")
            await page.evaluate(NOTE_HOOK)
            singles = []
            for key in range(notes):
                await note(harness, key, sent)
                singles.append((await wait_seen(page, [key], 10))[key] - sent[key])
            keys = list(range(notes, notes + burst))
            for key in keys:  # back to back, each answered (stored) before the next
                await note(harness, key, sent)
            seen = await wait_seen(page, keys, 60)
            bursts = [seen[k] - sent[k] for k in keys]
        finally:
            await browser.close()
    await harness.close()
    return {"one at a time p50": percentile(singles, 0.5), "one at a time p95": percentile(singles, 0.95),
            f"burst of {burst} p50": percentile(bursts, 0.5), f"burst of {burst} p95": percentile(bursts, 0.95)}


def one_run(notes: int, burst: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hhb-", dir="/tmp") as root:
        hive = HiveProcess(Path(root))
        hive.log_level = "WARNING"
        hive.start()
        try:
            hive.host.request("register_peer", name="bench")
            return asyncio.run(measure(hive, notes, burst))
        finally:
            hive.stop()


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--notes", type=int, default=100)
    args_parser.add_argument("--burst", type=int, default=200)
    args = args_parser.parse_args()
    header(f"live transcript: report → store → SSE → Chromium ({CHROMIUM}), {args.notes} single notes, "
           f"then a burst of {args.burst}")
    runs = []
    for run in range(args.runs):
        runs.append(one_run(args.notes, args.burst))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in runs[-1].items()), flush=True)
    report(runs, lambda _, v: f"{v:.1f} ms")


if __name__ == "__main__":
    main()
