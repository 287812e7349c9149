"""Durable turn stats: each `turn.turn_stats` event the harness reports also becomes one row of the
turn_stats table (kept 90 days by retention), which the stats windows read; the transcript's events are
bounded per agent and would cover only a busy agent's last few hundred turns.

What a status row shows is kept in memory (loaded at start): each agent's last turn (its context size) and
the cost of its turns in the last 24 hours, so a row costs no query.

Context size: the harness may report `context_tokens` (the last prompt's tokens) and `context_window`; until
it does, the size is estimated as the turn's prompt tokens per API call (exact for a one-call turn), and the
window comes from the model's name."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from hyperhive.store import EventRecord, Store, TurnStatsRecord

STATS_KIND = "turn.turn_stats"
DAY = 24 * 3600.0
DEFAULT_WINDOW = 200_000
LONG_WINDOW = 1_000_000  # models run with the `[1m]` suffix


@dataclass(frozen=True)
class TurnSummary:
    context_tokens: int | None
    context_window: int | None
    cost_usd_24h: float


def context_window(model: str) -> int | None:
    if not model:
        return None
    return LONG_WINDOW if model.endswith("[1m]") else DEFAULT_WINDOW


def record_of(event: EventRecord) -> TurnStatsRecord | None:
    if event.kind != STATS_KIND or not event.agent:
        return None
    p = event.payload
    started = _num(p.get("started_at")) or event.at
    prompt = int(_num(p.get("input_tokens")) + _num(p.get("cache_read_tokens")) + _num(p.get("cache_creation_tokens")))
    calls = max(int(_num(p.get("num_turns"))), 1)
    reported = p.get("context_tokens")
    model = str(p.get("model") or "")
    breakdown = p.get("tool_breakdown")
    result_kind = str(p.get("result_kind") or "")
    return TurnStatsRecord(
        agent=event.agent, started_at=started, ended_at=event.at, model=model,
        wake_from=str(p["wake_from"]) if p.get("wake_from") is not None else None,
        result_kind=result_kind, ok=result_kind in ("ok", "success"), duration_ms=int(_num(p.get("duration_ms"))),
        input_tokens=int(_num(p.get("input_tokens"))), output_tokens=int(_num(p.get("output_tokens"))),
        cache_read_tokens=int(_num(p.get("cache_read_tokens"))),
        cache_creation_tokens=int(_num(p.get("cache_creation_tokens"))),
        # 0 from the harness means it measured no API call (an early failure): estimate from the usage instead
        context_tokens=int(_num(reported)) if _is_num(reported) and _num(reported) > 0 else (
            prompt // calls if prompt else None),
        context_window=int(p["context_window"]) if _is_num(p.get("context_window")) else context_window(model),
        cost_usd=_num(p.get("cost_usd")), tool_calls=int(_num(p.get("tool_calls"))),
        tool_breakdown={str(k): int(v) for k, v in breakdown.items() if _is_num(v)} if isinstance(breakdown, dict)
        else {})


class TurnLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: dict[str, TurnStatsRecord] = {}
        self._costs: dict[str, deque[tuple[float, float]]] = defaultdict(deque)  # (started_at, cost), last 24 h

    async def load(self) -> None:
        now = time.time()
        for agent, (last, _) in (await self.store.turn_stats_summary(now - DAY)).items():
            self._last[agent] = last
            for turn in await self.store.turn_stats(agent, now - DAY):
                self._costs[agent].append((turn.started_at, turn.cost_usd))

    async def record(self, events: list[EventRecord]) -> None:
        for event in events:
            row = record_of(event)
            if row is not None:
                await self.store.add_turn_stats(row)
                self._last[row.agent] = row
                self._costs[row.agent].append((row.started_at, row.cost_usd))

    def summary(self, agent: str, now: float | None = None) -> TurnSummary | None:
        last = self._last.get(agent)
        if last is None:
            return None
        costs = self._costs[agent]
        since = (time.time() if now is None else now) - DAY
        while costs and costs[0][0] < since:
            costs.popleft()
        return TurnSummary(last.context_tokens, last.context_window, round(sum(c for _, c in costs), 6))

    def forget(self, agent: str) -> None:
        self._last.pop(agent, None)
        self._costs.pop(agent, None)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value: Any) -> float:
    return float(value) if _is_num(value) else 0.0
