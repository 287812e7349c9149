"""Reading stored events backwards: transcript backfill, an agent's last turn, its latest todo list.

The Store answers only "events after seq N, oldest first". Until it can answer "the newest N before
seq S" (a hook asked of core), this widens a window below S until it holds enough of the agent's events,
and finds the newest seq once by probing. Transcripts are bounded per agent (core/events.py keeps 5000),
so the scans are bounded too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from hyperhive.store import EventRecord, Store

PAGE = 1000
TURN_KINDS = ("turn.turn_start", "turn.turn_end", "turn.turn_stats")


class History:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.top = 0  # the newest event seq known
        self._last_turns: dict[str, dict[str, Any] | None] = {}

    async def load(self) -> None:
        self.top = max(self.top, await newest_seq(self.store))

    def saw(self, event: EventRecord) -> None:
        self.top = max(self.top, event.seq)

    async def before(
        self, before: int | None, agent: str | None, limit: int, kinds: Sequence[str] | None = None
    ) -> list[EventRecord]:
        """The newest `limit` events with seq < `before` (None: all), oldest first."""
        end = self.top + 1 if before is None else before
        window = max(limit * 4, 256)
        while True:
            start = max(end - 1 - window, 0)
            found = await _window(self.store, start, end, agent, kinds, limit)
            if len(found) >= limit or start == 0:
                return found
            window *= 4

    # --- last turn per agent --------------------------------------------------------------------
    async def last_turn(self, agent: str) -> dict[str, Any] | None:
        if agent not in self._last_turns:
            summary: dict[str, Any] | None = None
            for event in await self.before(None, agent, 3, TURN_KINDS):
                summary = merge_turn(summary, event)
            self._last_turns.setdefault(agent, summary)  # a live event that came first wins
        return self._last_turns[agent]

    def note_turn(self, event: EventRecord) -> dict[str, Any] | None:
        """Fold a live turn event into the agent's last turn; the new summary, or None if not a turn event."""
        if event.agent is None or event.kind not in TURN_KINDS:
            return None
        summary = merge_turn(self._last_turns.get(event.agent), event)
        if summary is not None:
            self._last_turns[event.agent] = summary
        return summary

    # --- todos ----------------------------------------------------------------------------------
    async def latest_todos(self, agent: str, scan: int = 5000) -> list[dict[str, Any]] | None:
        """The input of the agent's latest TodoWrite call, looking back at most `scan` events."""
        before: int | None = None
        seen = 0
        while seen < scan:
            events = await self.before(before, agent, 500, ["turn.stream"])
            for event in reversed(events):
                todos = todos_in(event.payload)
                if todos is not None:
                    return todos
            if len(events) < 500:
                return None
            seen += len(events)
            before = events[0].seq
        return None


def merge_turn(summary: dict[str, Any] | None, event: EventRecord) -> dict[str, Any] | None:
    """A turn summary: a turn_start opens a new one; its turn_end and turn_stats fill it in."""
    p = event.payload
    if event.kind == "turn.turn_start":
        return {"started_at": event.at, "from": p.get("from"), "message_id": p.get("id"), "running": True}
    if summary is None:
        return None
    summary = dict(summary)
    if event.kind == "turn.turn_end":
        summary.update(running=False, ended_at=event.at, ok=bool(p.get("ok")), kind=p.get("kind"),
                       note=p.get("note"))
    elif event.kind == "turn.turn_stats":
        summary.update(duration_ms=p.get("duration_ms"), cost_usd=p.get("cost_usd"), model=p.get("model"))
    return summary


def todos_in(line: dict[str, Any]) -> list[dict[str, Any]] | None:
    if line.get("type") != "assistant":
        return None
    content = (line.get("message") or {}).get("content")
    for block in reversed(content if isinstance(content, list) else []):
        if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == "TodoWrite":
            todos = (block.get("input") or {}).get("todos")
            if isinstance(todos, list):
                return [t for t in todos if isinstance(t, dict)]
    return None


async def newest_seq(store: Store) -> int:
    """The newest event seq: doubling, then bisecting on `events_after(x, limit=1)` (~2·log2 N reads)."""
    low, high = 0, 1  # invariant: no event after `high`; `low` is 0 or a stored seq
    while found := await store.events_after(high, limit=1):
        low, high = found[0].seq, found[0].seq * 2
    while high - low > 1:
        mid = (low + high) // 2
        found = await store.events_after(mid, limit=1)
        if found:
            low = found[0].seq
        else:
            high = mid
    found = await store.events_after(low, limit=1)
    return found[0].seq if found else low


async def _window(
    store: Store, start: int, end: int, agent: str | None, kinds: Sequence[str] | None, limit: int
) -> list[EventRecord]:
    kept: deque[EventRecord] = deque(maxlen=limit)
    after = start
    while True:
        page = await store.events_after(after, agent, list(kinds) if kinds else None, PAGE)
        kept.extend(e for e in page if e.seq < end)
        if len(page) < PAGE or page[-1].seq >= end - 1:
            return list(kept)
        after = page[-1].seq
