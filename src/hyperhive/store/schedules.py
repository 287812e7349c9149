"""Storage of scheduled prompts: messages to agents at a time, once or every interval. A firing delivers
its messages and moves the schedule on atomically (`fire_schedule`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from .records import MessageRecord, NewMessage, ScheduleRecord, ScheduleStatus

SCHEDULE_MUTABLE_FIELDS = frozenset({"targets", "body", "description", "next_fire_at", "interval_seconds",
                                     "status", "approval_id"})


class ScheduleStore(ABC):
    @abstractmethod
    async def add_schedule(self, targets: Sequence[str], body: str, description: str, first_fire_at: float,
                           interval_seconds: float | None, status: ScheduleStatus, created_by: str,
                           approval_id: int | None, at: float) -> ScheduleRecord: ...

    @abstractmethod
    async def get_schedule(self, schedule_id: int) -> ScheduleRecord | None: ...

    @abstractmethod
    async def list_schedules(self, statuses: Sequence[ScheduleStatus] | None = None) -> list[ScheduleRecord]:
        """By id."""

    @abstractmethod
    async def update_schedule(self, schedule_id: int, **fields: Any) -> ScheduleRecord: ...

    @abstractmethod
    async def fire_schedule(self, schedule_id: int, messages: Sequence[NewMessage], next_fire_at: float | None,
                            at: float, slot: float | None = None) -> list[MessageRecord] | None:
        """Deliver one firing and move the schedule on (done when `next_fire_at` is None), atomically; None
        when the schedule is no longer active or paused, or (`slot` given) has moved past that slot already:
        when two nodes fire one slot, one wins."""
