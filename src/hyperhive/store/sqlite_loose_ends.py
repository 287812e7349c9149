"""SQLite side of LooseEndStore (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ._sqlite_db import SQLiteDatabase, Where
from .loose_ends import LooseEndStore
from .records import MessageRecord, NewMessage, QuestionRecord, QuestionStatus, ReminderRecord
from .sqlite_messages import insert_messages

_PENDING = "delivered_at IS NULL AND cancelled_at IS NULL"


class SQLiteLooseEnds(LooseEndStore):
    db: SQLiteDatabase

    # --- reminders --------------------------------------------------------------------------------
    async def add_reminder(self, agent: str, body: str, due_at: float, created_at: float,
                           limit: int) -> ReminderRecord | None:
        def insert(conn: sqlite3.Connection) -> ReminderRecord | None:
            (count,) = conn.execute(f"SELECT count(*) FROM reminders WHERE agent = ? AND {_PENDING}",
                                    (agent,)).fetchone()
            if count >= limit:
                return None
            cursor = conn.execute("INSERT INTO reminders (agent, body, due_at, created_at) VALUES (?, ?, ?, ?)",
                                  (agent, body, due_at, created_at))
            assert cursor.lastrowid is not None
            return ReminderRecord(id=cursor.lastrowid, agent=agent, body=body, due_at=due_at, created_at=created_at)

        return await self.db.write(insert)

    async def pending_reminders(self, agent: str | None = None) -> list[ReminderRecord]:
        def select(conn: sqlite3.Connection) -> list[ReminderRecord]:
            where, args = (f"{_PENDING} AND agent = ?", (agent,)) if agent else (_PENDING, ())
            rows = conn.execute(f"SELECT * FROM reminders WHERE {where} ORDER BY due_at, id", args)
            return [ReminderRecord(**dict(row)) for row in rows]

        return await self.db.read(select)

    async def pending_reminder_counts(self) -> dict[str, int]:
        def count(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(f"SELECT agent, count(*) FROM reminders WHERE {_PENDING} GROUP BY agent")
            return {row[0]: row[1] for row in rows}

        return await self.db.read(count)

    async def deliver_reminder(self, reminder_id: int, message: NewMessage) -> MessageRecord | None:
        def deliver(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(f"SELECT id FROM reminders WHERE id = ? AND {_PENDING}", (reminder_id,)).fetchone()
            if row is None:
                return None
            (stored,) = insert_messages(conn, [message])
            conn.execute("UPDATE reminders SET delivered_at = ?, message_id = ? WHERE id = ?",
                         (message.sent_at, stored.id, reminder_id))
            return stored

        return await self.db.write(deliver)

    async def cancel_reminder(self, reminder_id: int, agent: str | None, at: float) -> ReminderRecord | None:
        def cancel(conn: sqlite3.Connection) -> ReminderRecord | None:
            row = conn.execute(f"SELECT * FROM reminders WHERE id = ? AND {_PENDING}", (reminder_id,)).fetchone()
            if row is None or (agent is not None and row["agent"] != agent):
                return None
            conn.execute("UPDATE reminders SET cancelled_at = ? WHERE id = ?", (at, reminder_id))
            return ReminderRecord(**{**dict(row), "cancelled_at": at})

        return await self.db.write(cancel)

    # --- questions --------------------------------------------------------------------------------
    async def add_question(self, question: QuestionRecord,
                           notify: Callable[[QuestionRecord], NewMessage] | None) -> tuple[QuestionRecord,
                                                                                          MessageRecord | None]:
        def insert(conn: sqlite3.Connection) -> tuple[QuestionRecord, MessageRecord | None]:
            q = question
            cursor = conn.execute(
                "INSERT INTO questions (asker, target, question, options, multi, asked_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (q.asker, q.target, q.question, json.dumps(q.options), q.multi, q.asked_at, q.expires_at),
            )
            assert cursor.lastrowid is not None
            stored = _question(conn.execute("SELECT * FROM questions WHERE id = ?", (cursor.lastrowid,)).fetchone())
            message = insert_messages(conn, [notify(stored)])[0] if notify is not None else None
            return stored, message

        return await self.db.write(insert)

    async def get_question(self, question_id: int) -> QuestionRecord | None:
        def select(conn: sqlite3.Connection) -> QuestionRecord | None:
            row = conn.execute("SELECT * FROM questions WHERE id = ?", (question_id,)).fetchone()
            return _question(row) if row else None

        return await self.db.read(select)

    async def questions(self, status: QuestionStatus | None = None, involving: str | None = None,
                        limit: int = 200) -> list[QuestionRecord]:
        def select(conn: sqlite3.Connection) -> list[QuestionRecord]:
            where = Where().when("status = ?", status).either("asker", "target", involving)
            return [_question(row) for row in where.newest(conn, "SELECT * FROM questions", limit)]

        return await self.db.read(select)

    async def close_question(self, question_id: int, status: QuestionStatus, answer: str, by: str | None,
                             at: float, message: NewMessage) -> tuple[QuestionRecord, MessageRecord] | None:
        def close(conn: sqlite3.Connection) -> tuple[QuestionRecord, MessageRecord] | None:
            cursor = conn.execute(
                "UPDATE questions SET status = ?, answer = ?, answered_by = ?, answered_at = ? "
                "WHERE id = ? AND status = 'open'", (status, answer, by, at, question_id))
            if cursor.rowcount == 0:
                return None
            (stored,) = insert_messages(conn, [message])
            return _question(conn.execute("SELECT * FROM questions WHERE id = ?", (question_id,)).fetchone()), stored

        return await self.db.write(close)


def _question(row: sqlite3.Row) -> QuestionRecord:
    values = dict(row)
    values["options"] = json.loads(values["options"])
    values["multi"] = bool(values["multi"])
    return QuestionRecord(**values)
