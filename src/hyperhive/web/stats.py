"""Turn statistics of one agent over fixed windows (24 h, 7 d, 30 d), from the turn_stats table (one row
per turn, kept 90 days: every window is complete), plus what its context holds after the last turn."""

from __future__ import annotations

import math
import time
from collections import Counter

from typing_extensions import TypedDict  # pydantic validates these on Python < 3.12

from hyperhive.core.turn_log import TurnSummary
from hyperhive.store import Store, TurnStatsRecord

DAY = 24 * 3600
WINDOWS = {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}


class Window(TypedDict):
    turns: int
    failed: int
    turns_per_hour: float
    p50_ms: float | None
    p95_ms: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    cost_usd: float
    tool_calls: int
    top_tools: list[tuple[str, int]]  # the five most called, with their counts


class Context(TypedDict):
    tokens: int
    window: int | None
    percent: float | None
    cost_usd_24h: float


Stats = TypedDict("Stats", {  # the windows' names start with digits: the functional form
    "24h": Window, "7d": Window, "30d": Window, "covered_since": float | None, "context": Context | None})


async def load_turn_stats(store: Store, agent: str, now: float | None = None) -> list[TurnStatsRecord]:
    now = time.time() if now is None else now
    return await store.turn_stats(agent, now - max(WINDOWS.values()))


def summarize(turns: list[TurnStatsRecord], now: float | None = None,
              last: TurnSummary | None = None) -> Stats:
    now = time.time() if now is None else now
    day, week, month = (window(turns, now - span, span) for span in WINDOWS.values())
    return {"24h": day, "7d": week, "30d": month, "covered_since": turns[0].started_at if turns else None,
            "context": context(last)}


def context(last: TurnSummary | None) -> Context | None:
    """The last turn's prompt against the model's window; None before the first turn."""
    if last is None or last.context_tokens is None:
        return None
    share = round(100 * last.context_tokens / last.context_window, 1) if last.context_window else None
    return {"tokens": last.context_tokens, "window": last.context_window, "percent": share,
            "cost_usd_24h": last.cost_usd_24h}


def window(turns: list[TurnStatsRecord], since: float, span: float) -> Window:
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
        "input_tokens": sum(t.input_tokens for t in chosen),
        "output_tokens": sum(t.output_tokens for t in chosen),
        "cache_read_tokens": sum(t.cache_read_tokens for t in chosen),
        "cache_creation_tokens": sum(t.cache_creation_tokens for t in chosen),
        "cost_usd": round(sum((t.cost_usd for t in chosen), 0.0), 4),
        "tool_calls": sum(t.tool_calls for t in chosen),
        "top_tools": tools.most_common(5),
    }


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]
