"""The event log: stored events (transcripts, crashes, approvals, …) that are also pushed live.

Turn stats are also written to their own table (turn_log), which outlives the transcript's bound.
Transcript events are many; each agent keeps its newest `TRANSCRIPT_KEEP` of them (pruned every
`PRUNE_EVERY` appends, not by a timer). Listeners (the dashboard's live stream) get each stored event
with its sequence number, so a page can load history and then follow without gaps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel

from hyperhive.store import EventRecord, NewEvent, Store

from .turn_log import TurnLog

TRANSCRIPT_PREFIX = "turn."
TRANSCRIPT_KEEP = 5000
PRUNE_EVERY = 500

EventListener = Callable[[list[EventRecord]], None]
# An event's payload: a wire model (an approval, a question, …) or the kind's own few keys.
Payload = BaseModel | Mapping[str, object]


def payload_dict(payload: Payload | None) -> dict[str, object]:
    """The payload as stored: a model as it is on the wire (its JSON form, fields in order)."""
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    return dict(payload or {})


class EventLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[EventListener] = []
        self._since_prune: Counter[str] = Counter()
        self.turns = TurnLog(store)  # each turn's stats also kept as a row of its own, for 90 days

    def listen(self, listener: EventListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def append(self, kind: str, agent: str | None = None, payload: Payload | None = None) -> EventRecord:
        return (await self.append_many([NewEvent(kind, agent, payload_dict(payload))]))[0]

    async def append_many(self, events: Sequence[NewEvent]) -> list[EventRecord]:
        stored = await self.store.append_events(events)
        await self.turns.record(stored)  # before listeners: a page refreshing its stats on the event finds the row
        for listener in list(self._listeners):
            listener(stored)
        for event in stored:
            if event.agent and event.kind.startswith(TRANSCRIPT_PREFIX):
                self._since_prune[event.agent] += 1
        for agent, count in list(self._since_prune.items()):
            if count >= PRUNE_EVERY:
                self._since_prune[agent] = 0
                await self.store.prune_events(agent, TRANSCRIPT_PREFIX, TRANSCRIPT_KEEP)
        return stored
