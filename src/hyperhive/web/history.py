"""Reading stored events backwards: transcript backfill, an agent's last turn, its latest todo list.
Each read is one `Store.events_before` page; transcripts are bounded per agent (core/events.py keeps
5000), so the todo scan is bounded too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired

from typing_extensions import TypedDict  # pydantic validates these on Python < 3.12

from hyperhive.store import EventRecord, Store

from .transcript import Payload, object_in

TURN_KINDS = ("turn.turn_start", "turn.turn_end", "turn.turn_stats")

# An agent's last turn as the swarm shows it: its turn_start opens it, its turn_end and turn_stats fill it in.
LastTurn = TypedDict("LastTurn", {  # "from" is a keyword: the functional form
    "started_at": float, "from": object, "message_id": object, "running": bool,
    "ended_at": NotRequired[float], "ok": NotRequired[bool], "kind": NotRequired[object], "note": NotRequired[object],
    "duration_ms": NotRequired[object], "cost_usd": NotRequired[object], "model": NotRequired[object]})
Todo = Payload  # one entry of a TodoWrite call's list, as the CLI wrote it


class History:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._last_turns: dict[str, LastTurn | None] = {}

    async def before(
        self, before: int | None, agent: str | None, limit: int, kinds: Sequence[str] | None = None
    ) -> list[EventRecord]:
        """The newest `limit` events with seq < `before` (None: all), oldest first."""
        return await self.store.events_before(before, agent, kinds, limit)

    # --- last turn per agent --------------------------------------------------------------------
    async def last_turn(self, agent: str) -> LastTurn | None:
        if agent not in self._last_turns:
            summary: LastTurn | None = None
            for event in await self.before(None, agent, 3, TURN_KINDS):
                summary = merge_turn(summary, event)
            self._last_turns.setdefault(agent, summary)  # a live event that came first wins
        return self._last_turns[agent]

    def note_turn(self, event: EventRecord) -> LastTurn | None:
        """Fold a live turn event into the agent's last turn; the new summary, or None if not a turn event."""
        if event.agent is None or event.kind not in TURN_KINDS:
            return None
        summary = merge_turn(self._last_turns.get(event.agent), event)
        if summary is not None:
            self._last_turns[event.agent] = summary
        return summary

    # --- todos ----------------------------------------------------------------------------------
    async def latest_todos(self, agent: str, scan: int = 5000) -> list[Todo] | None:
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


def merge_turn(summary: LastTurn | None, event: EventRecord) -> LastTurn | None:
    """A turn summary: a turn_start opens a new one; its turn_end and turn_stats fill it in."""
    p = event.payload
    if event.kind == "turn.turn_start":
        return {"started_at": event.at, "from": p.get("from"), "message_id": p.get("id"), "running": True}
    if summary is None:
        return None
    summary = summary.copy()
    if event.kind == "turn.turn_end":
        summary.update({"running": False, "ended_at": event.at, "ok": bool(p.get("ok")), "kind": p.get("kind"),
                        "note": p.get("note")})
    elif event.kind == "turn.turn_stats":
        summary.update({"duration_ms": p.get("duration_ms"), "cost_usd": p.get("cost_usd"), "model": p.get("model")})
    return summary


def todos_in(line: Payload) -> list[Todo] | None:
    if line.get("type") != "assistant":
        return None
    content = object_in(line.get("message")).get("content")
    for block in reversed(content if isinstance(content, list) else []):
        if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == "TodoWrite":
            todos = object_in(block.get("input")).get("todos")
            if isinstance(todos, list):
                return [t for t in todos if isinstance(t, dict)]
    return None
