"""The live feed: every update the dashboard pushes, numbered, with a ring of recent ones for resuming.

A page loads a snapshot stamped with the feed's cursor, then follows updates after it. A client that
reconnects names the last update it saw (`Last-Event-ID`) and gets exactly the ones after it from the
ring. Overflow rule (STYLE §7): the ring drops the oldest updates; a client whose cursor fell out of it,
or that comes from an earlier daemon (another epoch), is told to reload its snapshot — never silently
skipped. Subscribers hold no queues: each keeps a cursor into the ring, so a slow page costs nothing.

Topics are free-form strings; a new source (approvals, questions, schedules) just publishes under its own.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RING_SIZE = 4096


class Behind(Exception):
    """The cursor is older than the ring, or from another epoch: the client must reload its snapshot."""


# An update's JSON object: each source's own shape (a TypedDict, a model's dump), only ever encoded here.
JsonObject = Mapping[str, object]
Render = Callable[[Any], JsonObject]


class Update:
    """One numbered update. Its data is given, or rendered from `source` by `render` when a stream first
    sends it (a flood of mail with no page open renders nothing). Slotted, and a source is best a tuple of
    plain values: the ring keeps thousands of these, and each object the collector tracks in them is one
    it walks again and again (docs/decisions.md, the daemon's garbage collector)."""

    __slots__ = ("_data", "_encoded", "_render", "_source", "agents", "seq", "topic")

    def __init__(self, seq: int, topic: str, source: Any, agents: tuple[str, ...] = (),
                 render: Render | None = None) -> None:
        self.seq = seq
        self.topic = topic
        self.agents = agents  # whom it concerns, for per-agent streams; () concerns everyone
        self._source = source
        self._render = render
        self._data: JsonObject | None = None if render else source
        self._encoded: str | None = None

    @property
    def data(self) -> JsonObject:
        if self._data is None:
            assert self._render is not None
            self._data = self._render(self._source)
        return self._data

    @property
    def encoded(self) -> str:
        """The data as JSON, encoded once however many streams send it."""
        if self._encoded is None:
            self._encoded = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        return self._encoded


@dataclass(frozen=True)
class Cursor:
    epoch: str
    seq: int

    def __str__(self) -> str:
        return f"{self.epoch}.{self.seq}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        epoch, _, seq = text.strip().rpartition(".")
        if not epoch or not seq.isdigit():
            raise ValueError(f"not a feed cursor: {text[:40]!r}")
        return cls(epoch, int(seq))


@dataclass
class Filter:
    """Which updates one stream wants: topics (empty: all) and one agent (None: all)."""

    topics: frozenset[str] = field(default_factory=frozenset)
    agent: str | None = None

    def wants(self, update: Update) -> bool:
        if self.topics and update.topic not in self.topics:
            return False
        return self.agent is None or not update.agents or self.agent in update.agents


class LiveFeed:
    def __init__(self, ring_size: int = RING_SIZE) -> None:
        self.epoch = secrets.token_hex(4)  # a restarted daemon numbers from 0 again
        self.seq = 0
        self._ring: deque[Update] = deque(maxlen=ring_size)
        self._wake = asyncio.Event()
        self.closed = False

    def cursor(self) -> Cursor:
        return Cursor(self.epoch, self.seq)

    def publish(self, topic: str, data: Any, agents: Iterable[str] = (), render: Render | None = None) -> Update:
        """`data`: the update's JSON object, or with `render`, what it is rendered from when first sent."""
        self.seq += 1
        update = Update(self.seq, topic, data, tuple(agents), render)
        self._ring.append(update)
        # Wake every waiter at once. The next waiter makes a fresh event (see wait): a flood of mail with no
        # page open sets one event once instead of making one per update.
        if not self._wake.is_set():
            self._wake.set()
        return update

    def since(self, cursor: Cursor) -> list[Update]:
        """Updates after `cursor`, oldest first; raises Behind when some of them are no longer kept."""
        if cursor.epoch != self.epoch or cursor.seq > self.seq:
            raise Behind(f"cursor {cursor} is from another run of the daemon")
        if cursor.seq == self.seq:
            return []
        oldest = self._ring[0].seq if self._ring else self.seq + 1
        if cursor.seq < oldest - 1:
            raise Behind(f"cursor {cursor} is older than the {len(self._ring)} updates kept")
        return [u for u in self._ring if u.seq > cursor.seq]

    async def wait(self, cursor: Cursor) -> list[Update]:
        """Updates after `cursor`, waiting for at least one; [] once the feed is closed."""
        while not self.closed:
            updates = self.since(cursor)
            if updates:
                return updates
            if self._wake.is_set():  # its waiters were all woken: wait on a fresh one
                self._wake = asyncio.Event()
            await self._wake.wait()
        return []

    def close(self) -> None:
        self.closed = True
        self._wake.set()


def sse_frame(update: Update, epoch: str) -> str:
    return f"id: {epoch}.{update.seq}\nevent: {update.topic}\ndata: {update.encoded}\n\n"
