"""Reminders: mail an agent sends to its future self, delivered (sender `reminder`) when due.

Delivery marks the reminder and inserts its message in one transaction, so a kill -9 at any moment
delivers it exactly once: before the commit it is still pending (and fires on the next start), after it
is done. The reminder leaves memory only after that commit: a failed write leaves it pending, counted and
listed, and its timer is armed again (`RETRY_SECONDS`) instead of hiding it until the next restart."""

from __future__ import annotations

import logging
import time

from hyperhive.broker import Broker
from hyperhive.protocol import REMINDER_SENDER, ErrorCode, HiveError
from hyperhive.store import NewMessage, ReminderRecord, Store

from .registry import AgentRegistry
from .timers import DueTimers

log = logging.getLogger(__name__)
MAX_PENDING = 50
RETRY_SECONDS = 5.0  # after a failed delivery write (a full disk, a locked database)
MAX_DELAY_SECONDS = 366 * 24 * 3600


class Reminders:
    def __init__(self, store: Store, registry: AgentRegistry, broker: Broker) -> None:
        self.store = store
        self.registry = registry
        self.broker = broker
        self._pending: dict[int, ReminderRecord] = {}
        self._timers: DueTimers[int] = DueTimers(self._fire, "reminder")

    async def start(self) -> None:
        for reminder in await self.store.pending_reminders():
            self._pending[reminder.id] = reminder
            self._timers.arm(reminder.id, reminder.due_at)

    async def close(self) -> None:
        await self._timers.close()

    def pending_count(self, agent: str) -> int:
        return sum(1 for r in self._pending.values() if r.agent == agent)

    def pending(self, agent: str | None = None) -> list[ReminderRecord]:
        found = [r for r in self._pending.values() if agent is None or r.agent == agent]
        return sorted(found, key=lambda r: (r.due_at, r.id))

    async def add(self, agent: str, body: str, due_at: float) -> ReminderRecord:
        now = time.time()
        if due_at - now > MAX_DELAY_SECONDS:
            raise HiveError(ErrorCode.BAD_REQUEST, "a reminder can be at most a year ahead")
        stored = await self.store.add_reminder(agent, body, max(due_at, now), now, MAX_PENDING)
        if stored is None:
            raise HiveError(ErrorCode.LIMIT, f"{agent} already has {MAX_PENDING} pending reminders: "
                                             "cancel some (cancel_loose_end) before adding more")
        self._pending[stored.id] = stored
        self._timers.arm(stored.id, stored.due_at)
        self.registry.changes.changed(agent)
        return stored

    async def cancel(self, reminder_id: int, agent: str | None) -> ReminderRecord:
        """Cancel a pending reminder; `agent` (when given) must own it."""
        cancelled = await self.store.cancel_reminder(reminder_id, agent, time.time())
        if cancelled is None:
            whose = f" of {agent}" if agent else ""
            raise HiveError(ErrorCode.NOT_FOUND, f"no pending reminder #{reminder_id}{whose}")
        self._pending.pop(reminder_id, None)
        self._timers.disarm(reminder_id)
        self.registry.changes.changed(cancelled.agent)
        return cancelled

    async def _fire(self, reminder_id: int) -> None:
        reminder = self._pending.get(reminder_id)
        if reminder is None:
            return
        message = NewMessage(REMINDER_SENDER, reminder.agent, reminder.body, time.time())
        try:
            stored = await self.store.deliver_reminder(reminder_id, message)
        except Exception:
            log.exception("reminder #%d could not be delivered; trying again in %g s", reminder_id, RETRY_SECONDS)
            if reminder_id in self._pending:  # not cancelled meanwhile
                self._timers.arm(reminder_id, time.time() + RETRY_SECONDS)
            return
        self._pending.pop(reminder_id, None)
        if stored is not None:
            await self.broker.announce([stored])
        self.registry.changes.changed(reminder.agent)
