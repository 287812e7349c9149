"""Durable state behind one interface (base.Store); sqlite.SQLiteStore is the embedded default."""

from .base import Store, StoreError
from .records import AgentRecord, EventRecord, MessageRecord, NewEvent, NewMessage

__all__ = ["AgentRecord", "EventRecord", "MessageRecord", "NewEvent", "NewMessage", "Store", "StoreError"]
