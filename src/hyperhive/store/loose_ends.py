"""Storage of reminders and questions. A write that also delivers mail (a due reminder, an answer)
inserts the message in the same transaction: after a kill -9 either both happened or neither did."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from .records import MessageRecord, NewMessage, QuestionRecord, QuestionStatus, ReminderRecord


class LooseEndStore(ABC):
    # --- reminders --------------------------------------------------------------------------------
    @abstractmethod
    async def add_reminder(self, agent: str, body: str, due_at: float, created_at: float,
                           limit: int) -> ReminderRecord | None:
        """Insert, unless `agent` already has `limit` pending reminders (then None)."""

    @abstractmethod
    async def pending_reminders(self, agent: str | None = None) -> list[ReminderRecord]:
        """Not delivered, not cancelled; by due time."""

    @abstractmethod
    async def pending_reminder_counts(self) -> dict[str, int]: ...

    @abstractmethod
    async def deliver_reminder(self, reminder_id: int, message: NewMessage) -> MessageRecord | None:
        """Mark delivered and insert its message, atomically; None if it was delivered or cancelled already."""

    @abstractmethod
    async def cancel_reminder(self, reminder_id: int, agent: str | None, at: float) -> ReminderRecord | None:
        """Cancel a pending reminder (of `agent`, when given); None if there is no such pending reminder."""

    # --- questions --------------------------------------------------------------------------------
    @abstractmethod
    async def add_question(self, question: QuestionRecord,
                           notify: Callable[[QuestionRecord], NewMessage] | None) -> tuple[QuestionRecord,
                                                                                          MessageRecord | None]:
        """Insert (the record's id is ignored), with an optional message (made from the stored question, so
        it can name its id) telling the target, in the same transaction."""

    @abstractmethod
    async def get_question(self, question_id: int) -> QuestionRecord | None: ...

    @abstractmethod
    async def questions(self, status: QuestionStatus | None = None, involving: str | None = None,
                        limit: int = 200) -> list[QuestionRecord]:
        """Newest first; `involving` keeps those asked by or addressed to that name."""

    @abstractmethod
    async def close_question(self, question_id: int, status: QuestionStatus, answer: str, by: str | None,
                             at: float, message: NewMessage) -> tuple[QuestionRecord, MessageRecord] | None:
        """Close an open question and deliver its answer message atomically; None if it was not open."""
