"""The API gateway's cost per call: the same streamed Messages call straight to a scripted API (TCP) and
through the gateway (an agent's Unix socket → metering → budget check → the same API), interleaved.

Prints, for each path, the time to the first streamed byte and to the last, p50 and p90, and the added
latency per call (p50 of gateway minus direct, over pairs made back to back). The gateway runs on its own
event loop in a thread with a real SQLite store; the client is httpx in the main thread.

    .venv/bin/python bench/gateway.py [--calls 500] [--profile]

`--profile` prints where the gateway's thread spent its time (pyinstrument, installed into .venv by hand:
`.venv/bin/pip install pyinstrument`); its figures are then slower than the plain run's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header
from tests.support.api_replies import Reply
from tests.support.scripted_api import ScriptedApi

from hyperhive.config.host_policy import HiveBudget
from hyperhive.config.sections import Budget
from hyperhive.gateway.budgets import Exhausted, Limits
from hyperhive.gateway.clock import SystemClock
from hyperhive.gateway.server import Gateway
from hyperhive.gateway.spend import Spend, SpendHooks
from hyperhive.store.sqlite import SQLiteStore

BODY = {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
        "messages": [{"role": "user", "content": "hello " * 200}]}


async def _no_limits(name: str) -> Limits:
    return Budget()


async def _nothing(name: str, found: Exhausted | None = None) -> None:
    return None


class GatewayThread:
    """A gateway on its own loop, like the daemon's, serving one agent's socket."""

    def __init__(self, root: Path, upstream: str, profile: bool = False) -> None:
        self.root = root
        self.profile = profile
        self.upstream = upstream
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._open())
        self.ready.set()
        if not self.profile:
            self.loop.run_forever()
            return
        from pyinstrument import Profiler  # only for --profile: not a dependency

        with Profiler(interval=0.0002) as profiler:
            self.loop.run_forever()
        print(profiler.output_text(color=False, show_all=False))

    async def _open(self) -> None:
        (self.root / "agents" / "bench").mkdir(parents=True)
        self.store = SQLiteStore(self.root / "hive.db")
        await self.store.open()
        hooks = SpendHooks(_no_limits, HiveBudget, _nothing, _nothing, lambda name: None)
        self.gateway = Gateway(self.root, {"ANTHROPIC_BASE_URL": self.upstream, "ANTHROPIC_API_KEY": "sk-bench"},
                               Spend(self.store, SystemClock(), hooks))
        await self.gateway.open("bench")

    def start(self) -> Path:
        self.thread.start()
        self.ready.wait(30)
        return self.gateway.socket_path("bench")

    def stop(self) -> None:
        async def close() -> None:
            await self.gateway.close_all()
            await self.gateway.spend.close()
            await self.store.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def timed_call(client: httpx.Client) -> tuple[float, float]:
    """Seconds to the first streamed byte and to the end of the stream."""
    start = time.perf_counter()
    first = 0.0
    with client.stream("POST", "/v1/messages", json=BODY, headers={"x-api-key": "hive-gateway"}) as answer:
        for _chunk in answer.iter_raw():
            if not first:
                first = time.perf_counter() - start
    return first, time.perf_counter() - start


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="the gateway thread's profile (pyinstrument)")
    args = parser.parse_args()
    with ScriptedApi(default=Reply(text="word " * 100, input_tokens=1200, output_tokens=100)) as api, \
            tempfile.TemporaryDirectory(prefix="hh-bench-", dir="/tmp") as tmp:
        gateway = GatewayThread(Path(tmp), api.base_url, args.profile)
        sock = gateway.start()
        direct = httpx.Client(base_url=api.base_url, timeout=30)
        via = httpx.Client(base_url="http://hive-gateway", transport=httpx.HTTPTransport(uds=str(sock)), timeout=30)
        try:
            for _ in range(20):  # warm both paths
                timed_call(direct), timed_call(via)
            results: dict[str, list[tuple[float, float]]] = {"direct": [], "gateway": []}
            for _ in range(args.calls):
                results["direct"].append(timed_call(direct))
                results["gateway"].append(timed_call(via))
        finally:
            direct.close()
            via.close()
            gateway.stop()
        metered = len(api.message_requests)
    header(f"API gateway, {args.calls} calls each way")
    for path, pairs in results.items():
        firsts, totals = [p[0] for p in pairs], [p[1] for p in pairs]
        print(f"{path:8s} first byte p50 {pct(firsts, 50):.2f} ms p90 {pct(firsts, 90):.2f} ms; "
              f"whole call p50 {pct(totals, 50):.2f} ms p90 {pct(totals, 90):.2f} ms")
    added = [g[1] - d[1] for d, g in zip(results["direct"], results["gateway"], strict=True)]
    added_first = [g[0] - d[0] for d, g in zip(results["direct"], results["gateway"], strict=True)]
    print(f"added by the gateway: whole call p50 {pct(added, 50):.2f} ms p90 {pct(added, 90):.2f} ms; "
          f"first byte p50 {pct(added_first, 50):.2f} ms ({args.calls} calls each, {metered} API requests)")


if __name__ == "__main__":
    main()
