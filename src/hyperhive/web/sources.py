"""What feeds the live feed: status rows, broker traffic and stored events, each under its topic.

Topics: `status` (a row, or `removed`), `message` (a new message), `ack`, `delivered`, `operator` (what
waits for the operator: unread mail, pending approvals, open questions), `turn` (an agent's transcript
event, rendered into items), `lastturn` (the summary the swarm shows), and for every other stored event
the first word of its kind (`approval_requested` → `approval`, `question_asked` → `question`,
`schedule_updated` → `schedule`, `container_crash` → `container`). A feature added later that stores its
events gets a topic for free; one that does not can call `LiveFeed.publish` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import re
import time
from typing import TYPE_CHECKING, Any, NotRequired

from typing_extensions import TypedDict  # pydantic validates these on Python < 3.12

from hyperhive.core.events import TRANSCRIPT_PREFIX
from hyperhive.core.views import event_view, message_view
from hyperhive.protocol import OPERATOR, HiveError, StatusRow, rfc3339
from hyperhive.store import EventRecord, MessageRecord
from hyperhive.tasks import Tasks

from .history import History
from .transcript import Item, Payload, event_items

if TYPE_CHECKING:
    from hyperhive.core.hive import Hive

    from .feed import JsonObject, LiveFeed

log = logging.getLogger(__name__)


def event_topic(kind: str) -> str:
    return "turn" if kind.startswith(TRANSCRIPT_PREFIX) else re.split(r"[._]", kind, maxsplit=1)[0]


CALL_COUNT_LIMIT = 1000
STATUS_REST_SECONDS = 0.1  # the least time between two batches of status rows
CALL_EVENT_PREFIXES = ("approval_", "question_")


async def call_counts(hive: Hive) -> dict[str, int]:
    """What waits for the operator, the "your call" badge on every page."""
    approvals = await hive.store.list_approvals(status="pending", limit=CALL_COUNT_LIMIT)
    questions = await hive.store.questions(status="open", limit=CALL_COUNT_LIMIT)
    return {"unread": await hive.store.count_unacked(OPERATOR), "approvals": len(approvals),
            "questions": sum(1 for q in questions if q.target == OPERATOR)}


class EventUpdate(TypedDict):
    """A stored event as pages get it (the `events` verb's Event), with what a transcript draws of it."""

    seq: int
    at: str
    agent: str | None
    kind: str
    payload: NotRequired[Payload]  # not for turn events: the items carry what a page shows; stream lines are large
    items: list[Item]


def event_update(event: EventRecord) -> EventUpdate:
    view = event_view(event)
    update: EventUpdate = {"seq": view.seq, "at": view.at, "agent": view.agent, "kind": view.kind,
                           "payload": view.payload, "items": event_items(event.kind, event.payload)}
    if event.kind.startswith(TRANSCRIPT_PREFIX):
        del update["payload"]
    return update


_MESSAGE_FIELDS = tuple(MessageRecord.model_fields)
_message_row = operator.attrgetter(*_MESSAGE_FIELDS)  # a tuple of plain values: the collector untracks it


def _render_message(row: tuple[Any, ...]) -> JsonObject:
    return message_view(MessageRecord(**dict(zip(_MESSAGE_FIELDS, row, strict=True)))).model_dump(
        mode="json")


class FeedSources:
    def __init__(self, hive: Hive, feed: LiveFeed, history: History) -> None:
        self.hive = hive
        self.feed = feed
        self.history = history
        self._attached = False
        self._unlisten: Any = None
        self._tasks = Tasks(log, "the operator's call counts")
        self._status_task: asyncio.Task[None] | None = None
        self._counts_lock = asyncio.Lock()  # counts read in order, so the last one published is the newest

    async def attach(self) -> None:
        self._changes = self.hive.registry.changes.subscribe()
        self._unlisten = self.hive.events.listen(self._on_events)
        # The broker has no way to remove a listener yet; a closed source ignores its calls.
        self.hive.broker.on_messages(self._on_messages)
        self.hive.broker.on_ack(self._on_ack)
        self._attached = True
        self._status_task = asyncio.create_task(self._pump_status(), name="dashboard-status")

    async def close(self) -> None:
        self._attached = False
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        await self._tasks.close()
        if self._status_task is not None:
            self._status_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._status_task
        if self._status_task is not None:
            self._changes.close()
            self._status_task = None

    # --- status rows ----------------------------------------------------------------------------
    async def _pump_status(self) -> None:
        """Changes coalesce per agent (core/changes.py), and a batch is read at once (one unread count
        query for all of them), so a burst costs one row per changed agent and one read per batch. After a
        batch the pump rests STATUS_REST_SECONDS (a timer): under a flood of mail, rows are recomputed a
        few times a second, not once per send, while a lone change still shows at once."""
        while True:
            names = await self._changes.next_batch()
            try:
                rows = await self._rows(names)
            except Exception:  # a store hiccup must not end the live view for good
                log.exception("dashboard: reading the status rows of %s failed", ", ".join(names))
                continue
            for name in names:
                row = rows.get(name)
                if row is None:
                    self.feed.publish("status", {"name": name, "removed": True}, [name])
                else:
                    self.feed.publish("status", {"row": row.model_dump(mode="json")}, [name])
            await asyncio.sleep(STATUS_REST_SECONDS)

    async def _rows(self, names: list[str]) -> dict[str, StatusRow]:
        kept = [n for n in names if self.hive.registry.get(n) is not None]
        try:
            rows = await self.hive.status_rows(kept) if kept else []
        except HiveError:  # one was removed meanwhile: read them one by one
            found = [await self.hive.status_row(n) for n in kept]
            rows = [row for row in found if row is not None]
        return {row.name: row for row in rows}

    # --- broker ---------------------------------------------------------------------------------
    def _on_messages(self, messages: list[MessageRecord]) -> None:
        if not self._attached:
            return
        for m in messages:  # rendered when a stream sends it: with no page open, a send costs no rendering
            self.feed.publish("message", _message_row(m), (m.sender, m.recipient), render=_render_message)
        if any(m.recipient == OPERATOR for m in messages):
            self._tasks.spawn(self._publish_call_counts)

    def _on_ack(self, recipient: str, ids: list[int]) -> None:
        if not self._attached:
            return
        self.feed.publish("ack", {"recipient": recipient, "ids": ids, "acked_at": rfc3339(time.time())}, [recipient])
        if recipient == OPERATOR:
            self._tasks.spawn(self._publish_call_counts)

    async def _publish_call_counts(self) -> None:
        async with self._counts_lock:
            self.feed.publish("operator", await call_counts(self.hive))

    # --- stored events --------------------------------------------------------------------------
    def _on_events(self, events: list[EventRecord]) -> None:
        if any(e.kind.startswith(CALL_EVENT_PREFIXES) for e in events):
            self._tasks.spawn(self._publish_call_counts)
        for event in events:
            agents = [event.agent] if event.agent else []
            self.feed.publish(event_topic(event.kind), event_update(event), agents)
            if event.agent and event.kind == "turn.turn_start" and isinstance(event.payload.get("id"), int):
                # The broker does not announce deliveries; a turn starting on a message is one.
                self.feed.publish("delivered", {"ids": [event.payload["id"]], "delivered_at": rfc3339(event.at)},
                                  agents)
            summary = self.history.note_turn(event)
            if summary is not None and event.agent:
                self.feed.publish("lastturn", {"agent": event.agent, "turn": summary}, agents)

