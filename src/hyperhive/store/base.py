"""The storage interface. Callers depend on this, never on a backend, so that a PostgreSQL backend
(LISTEN/NOTIFY for push) can replace SQLite without touching the broker or the daemon."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .approvals import ApprovalStore
from .loose_ends import LooseEndStore
from .maintenance import MaintenanceStore
from .nodes import Channel, NodeStore
from .records import AgentRecord, EventRecord, MessageRecord, NewEvent, NewMessage
from .schedules import ScheduleStore
from .usage import UsageStore

# Told the stored records once an insert is over (None: it failed), in the loop, even if its caller was cancelled.
OnCommit = Callable[[list[MessageRecord] | None], None]


class StoreError(Exception):
    """A storage failure the caller can explain (a conflict, a missing row)."""


class StoreUnavailable(StoreError):
    """The database could not be reached (a PostgreSQL restart, a cut link): the write did not happen or
    its outcome is unknown. Requests answer `unavailable`; the daemon keeps running and reconnects."""


class Store(LooseEndStore, ApprovalStore, ScheduleStore, MaintenanceStore, UsageStore, NodeStore, ABC):
    """Durable state of the hive. Every write method returns only after its transaction committed."""

    # insert_messages stores NewMessage.delivered_at/acked_at, so the broker may hand a new message to a
    # blocked reader in the send's own transaction (one commit for both).
    hands_off = False

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def watch_mail(self, wake: Callable[[str], None], wake_all: Callable[[], None]) -> None:
        """Be told of mail that *other* writers of this store commit (the other nodes of a hive on
        PostgreSQL): `wake(recipient)` for each, and `wake_all()` after each (re)connect, since what came
        while disconnected was not told. The default does nothing: SQLite has one writer, this process."""

    async def watch(self, handlers: Mapping[Channel, Callable[[str], None]], caught_up: Callable[[], None]) -> None:
        """Be told what the other nodes commit (`handlers[channel](payload)`, see store.nodes.Channel), and
        `caught_up()` after each (re)connect, once listening, so the caller re-reads what it may have missed.
        Replaces watch_mail. The default does nothing: on SQLite this process is the only writer."""

    # --- agents -----------------------------------------------------------------------------------
    @abstractmethod
    async def create_agent(self, agent: AgentRecord) -> None:
        """Insert a new agent; raises StoreError if the name is taken."""

    @abstractmethod
    async def get_agent(self, name: str) -> AgentRecord | None: ...

    @abstractmethod
    async def list_agents(self) -> list[AgentRecord]: ...

    @abstractmethod
    async def update_agent(self, name: str, **fields: Any) -> AgentRecord:
        """Change the named mutable fields (records.AGENT_MUTABLE_FIELDS); raises StoreError if absent."""

    @abstractmethod
    async def delete_agent(self, name: str) -> None:
        """Remove the agent's row. Its messages and events stay."""

    # --- messages ---------------------------------------------------------------------------------
    @abstractmethod
    async def insert_messages(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        """Insert all of them in one transaction; they are durable when this returns."""

    def insert_messages_now(self, messages: Sequence[NewMessage],
                            on_commit: OnCommit | None = None) -> asyncio.Future[list[MessageRecord]]:
        """insert_messages begun before this returns. `on_commit` gets the stored records (None if the
        insert failed) once it is over, even if the future was cancelled meanwhile: a hand-off must happen
        once the insert commits. A store that can queue the write at once calls it sooner and skips the task."""
        insert = asyncio.ensure_future(self.insert_messages(messages))
        if on_commit is not None:
            insert.add_done_callback(lambda done: on_commit(
                None if done.cancelled() or done.exception() is not None else done.result()))
        return asyncio.shield(insert)  # a caller cancelled meanwhile does not cancel the insert

    @abstractmethod
    async def get_message(self, message_id: int) -> MessageRecord | None: ...

    @abstractmethod
    async def unacked_messages(
        self, recipient: str, limit: int, exclude_ids: Iterable[int] = ()
    ) -> list[MessageRecord]:
        """The recipient's oldest unacked messages, skipping `exclude_ids` (those already in flight)."""

    @abstractmethod
    async def count_unacked(self, recipient: str) -> int: ...

    async def unacked_and_count(
        self, recipient: str, limit: int, exclude_ids: Iterable[int] = ()
    ) -> tuple[list[MessageRecord], int]:
        """`unacked_messages` and `count_unacked` at once; a backend may answer both in one read."""
        return await self.unacked_messages(recipient, limit, exclude_ids), await self.count_unacked(recipient)

    @abstractmethod
    async def unacked_counts(self) -> dict[str, int]:
        """Unacked messages per recipient, for every recipient that has any."""

    @abstractmethod
    async def mark_delivered(self, ids: Sequence[int], at: float) -> None: ...

    @abstractmethod
    async def ack_messages(self, recipient: str, ids: Sequence[int], at: float) -> list[int]:
        """Ack those of `ids` addressed to `recipient` and not yet acked; return the ids acked now."""

    @abstractmethod
    async def recent_messages(
        self, limit: int, before_id: int | None = None, involving: str | None = None
    ) -> list[MessageRecord]:
        """Newest first; `involving` keeps messages sent by or to that name."""

    @abstractmethod
    async def inbox_messages(self, recipient: str, limit: int, unread_only: bool) -> list[MessageRecord]:
        """Newest first."""

    # --- events -----------------------------------------------------------------------------------
    @abstractmethod
    async def append_events(self, events: Sequence[NewEvent]) -> list[EventRecord]: ...

    @abstractmethod
    async def events_after(
        self, after_seq: int, agent: str | None = None, kinds: Sequence[str] | None = None, limit: int = 200
    ) -> list[EventRecord]:
        """Oldest first."""

    @abstractmethod
    async def events_before(
        self, before_seq: int | None, agent: str | None = None, kinds: Sequence[str] | None = None, limit: int = 200
    ) -> list[EventRecord]:
        """The newest `limit` events with seq < `before_seq` (None: the newest of all), oldest first: reading
        a transcript backwards, one page at a time."""

    @abstractmethod
    async def max_event_seq(self) -> int:
        """The newest event's seq; 0 when there is none."""

    @abstractmethod
    async def prune_events(self, agent: str, kind_prefix: str, keep: int) -> int:
        """Delete all but the newest `keep` events of `agent` whose kind starts with `kind_prefix`."""
