"""Turn statistics of one agent over fixed windows, from its stored `turn.turn_stats` events.

Note: those events share the transcript's bound (the newest 5000 `turn.*` events per agent), so a very
busy agent's 7-day figures cover only what is still stored; `covered_since` says from when.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from hyperhive.store import EventRecord, Store

WINDOWS = {"24h": 24 * 3600, "7d": 7 * 24 * 3600}
STATS_KIND = "turn.turn_stats"
PAGE = 1000
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


async def load_turn_stats(store: Store, agent: str) -> list[EventRecord]:
    found: list[EventRecord] = []
    after = 0
    while page := await store.events_after(after, agent, [STATS_KIND], PAGE):
        found += page
        after = page[-1].seq
        if len(page) < PAGE:
            break
    return found


def summarize(events: list[EventRecord], now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    result: dict[str, Any] = {name: window(events, now - span, span) for name, span in WINDOWS.items()}
    result["covered_since"] = events[0].at if events else None
    return result


def window(events: list[EventRecord], since: float, span: float) -> dict[str, Any]:
    chosen = [e.payload for e in events if _started(e) >= since]
    durations = sorted(float(p["duration_ms"]) for p in chosen if _number(p.get("duration_ms")))
    tools: Counter[str] = Counter()
    for p in chosen:
        breakdown = p.get("tool_breakdown")
        if isinstance(breakdown, dict):
            tools.update({str(k): int(v) for k, v in breakdown.items() if _number(v)})
    return {
        "turns": len(chosen),
        "failed": sum(1 for p in chosen if p.get("result_kind") not in (None, "ok", "success")),
        "turns_per_hour": round(len(chosen) / (span / 3600), 2),
        "p50_ms": percentile(durations, 50),
        "p95_ms": percentile(durations, 95),
        **{key: int(sum(p.get(key) or 0 for p in chosen if _number(p.get(key)))) for key in TOKEN_KEYS},
        "cost_usd": round(sum(float(p["cost_usd"]) for p in chosen if _number(p.get("cost_usd"))), 4),
        "tool_calls": int(sum(p.get("tool_calls") or 0 for p in chosen if _number(p.get("tool_calls")))),
        "top_tools": tools.most_common(5),
    }


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _started(event: EventRecord) -> float:
    started = event.payload.get("started_at")
    return float(started) if isinstance(started, int | float) else event.at


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
