"""Turn statistics of one agent over fixed windows (24 h, 7 d, 30 d), from the turn_stats table (one row
per turn, kept 90 days: every window is complete), plus what its context holds after the last turn."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from hyperhive.core.turn_log import TurnSummary
from hyperhive.store import Store, TurnStatsRecord

WINDOWS = {"24h": 24 * 3600, "7d": 7 * 24 * 3600, "30d": 30 * 24 * 3600}
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


async def load_turn_stats(store: Store, agent: str, now: float | None = None) -> list[TurnStatsRecord]:
    now = time.time() if now is None else now
    return await store.turn_stats(agent, now - max(WINDOWS.values()))


def summarize(turns: list[TurnStatsRecord], now: float | None = None,
              last: TurnSummary | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    result: dict[str, Any] = {name: window(turns, now - span, span) for name, span in WINDOWS.items()}
    result["covered_since"] = turns[0].started_at if turns else None
    result["context"] = context(last)
    return result


def context(last: TurnSummary | None) -> dict[str, Any] | None:
    """The last turn's prompt against the model's window; None before the first turn."""
    if last is None or last.context_tokens is None:
        return None
    share = round(100 * last.context_tokens / last.context_window, 1) if last.context_window else None
    return {"tokens": last.context_tokens, "window": last.context_window, "percent": share,
            "cost_usd_24h": last.cost_usd_24h}


def window(turns: list[TurnStatsRecord], since: float, span: float) -> dict[str, Any]:
    chosen = [t for t in turns if t.started_at >= since]
    durations = sorted(float(t.duration_ms) for t in chosen if t.duration_ms)
    tools: Counter[str] = Counter()
    for t in chosen:
        tools.update(t.tool_breakdown)
    return {
        "turns": len(chosen),
        "failed": sum(1 for t in chosen if not t.ok),
        "turns_per_hour": round(len(chosen) / (span / 3600), 2),
        "p50_ms": percentile(durations, 50),
        "p95_ms": percentile(durations, 95),
        **{key: sum(int(getattr(t, key)) for t in chosen) for key in TOKEN_KEYS},
        "cost_usd": round(sum(t.cost_usd for t in chosen), 4),
        "tool_calls": sum(t.tool_calls for t in chosen),
        "top_tools": tools.most_common(5),
    }


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]
