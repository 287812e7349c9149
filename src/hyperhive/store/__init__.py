"""Durable state behind one interface (base.Store); sqlite.SQLiteStore is the embedded default."""

from .base import Store, StoreError, StoreUnavailable
from .records import (
    AgentRecord,
    ApprovalRecord,
    ApprovalStatus,
    EventRecord,
    MessageRecord,
    NewEvent,
    NewMessage,
    PruneResult,
    QuestionRecord,
    QuestionStatus,
    ReminderRecord,
    ScheduleRecord,
    ScheduleStatus,
    TurnStatsRecord,
)

__all__ = [
    "AgentRecord",
    "ApprovalRecord",
    "ApprovalStatus",
    "EventRecord",
    "MessageRecord",
    "NewEvent",
    "NewMessage",
    "PruneResult",
    "QuestionRecord",
    "QuestionStatus",
    "ReminderRecord",
    "ScheduleRecord",
    "ScheduleStatus",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TurnStatsRecord",
]
