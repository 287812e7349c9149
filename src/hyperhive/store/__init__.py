"""Durable state behind one interface (base.Store); sqlite.SQLiteStore is the embedded default."""

from .base import Store, StoreError
from .records import (
    AgentRecord,
    EventRecord,
    MessageRecord,
    NewEvent,
    NewMessage,
    QuestionRecord,
    QuestionStatus,
    ReminderRecord,
)

__all__ = [
    "AgentRecord",
    "EventRecord",
    "MessageRecord",
    "NewEvent",
    "NewMessage",
    "QuestionRecord",
    "QuestionStatus",
    "ReminderRecord",
    "Store",
    "StoreError",
]
