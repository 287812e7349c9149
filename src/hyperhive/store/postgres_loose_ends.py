"""PostgreSQL side of LooseEndStore (mixed into PostgresStore). A write that delivers mail inserts the
message in its own transaction, as the SQLite side does."""

from __future__ import annotations

from collections.abc import Callable

from psycopg.types.json import Jsonb

from ._pg_db import Conn, PostgresDatabase
from .base import StoreError
from .loose_ends import LooseEndStore
from .postgres_messages import insert_messages
from .records import MessageRecord, NewMessage, QuestionRecord, QuestionStatus, ReminderRecord

_PENDING = "delivered_at IS NULL AND cancelled_at IS NULL"


class PostgresLooseEnds(LooseEndStore):
    db: PostgresDatabase

    # --- reminders --------------------------------------------------------------------------------
    async def add_reminder(self, agent: str, body: str, due_at: float, created_at: float,
                           limit: int) -> ReminderRecord | None:
        async def insert(conn: Conn) -> ReminderRecord | None:
            # A lock per agent serialises two nodes adding reminders for one agent, so the limit holds.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('reminders:' || %s))", (agent,))
            row = await (await conn.execute(
                f"SELECT count(*) AS n FROM reminders WHERE agent = %s AND {_PENDING}", (agent,))).fetchone()
            if row is not None and row["n"] >= limit:
                return None
            made = await (await conn.execute(
                "INSERT INTO reminders (agent, body, due_at, created_at) VALUES (%s, %s, %s, %s) RETURNING *",
                (agent, body, due_at, created_at))).fetchone()
            if made is None:
                raise StoreError("the database returned no reminder row")
            return ReminderRecord(**made)

        return await self.db.write(insert)

    async def pending_reminders(self, agent: str | None = None) -> list[ReminderRecord]:
        async def select(conn: Conn) -> list[ReminderRecord]:
            rows = await (await conn.execute(
                f"SELECT * FROM reminders WHERE {_PENDING} AND (%(agent)s::text IS NULL OR agent = %(agent)s) "
                "ORDER BY due_at, id", {"agent": agent})).fetchall()
            return [ReminderRecord(**row) for row in rows]

        return await self.db.read(select)

    async def pending_reminder_counts(self) -> dict[str, int]:
        async def count(conn: Conn) -> dict[str, int]:
            rows = await (await conn.execute(
                f"SELECT agent, count(*) AS n FROM reminders WHERE {_PENDING} GROUP BY agent")).fetchall()
            return {row["agent"]: int(row["n"]) for row in rows}

        return await self.db.read(count)

    async def deliver_reminder(self, reminder_id: int, message: NewMessage) -> MessageRecord | None:
        async def deliver(conn: Conn) -> MessageRecord | None:
            # FOR UPDATE SKIP LOCKED: when two nodes fire one reminder, one delivers it and the other sees none.
            row = await (await conn.execute(
                f"SELECT id FROM reminders WHERE id = %s AND {_PENDING} FOR UPDATE SKIP LOCKED",
                (reminder_id,))).fetchone()
            if row is None:
                return None
            (stored,) = await insert_messages(conn, [message])
            await conn.execute("UPDATE reminders SET delivered_at = %s, message_id = %s WHERE id = %s",
                               (message.sent_at, stored.id, reminder_id))
            return stored

        return await self.db.write(deliver)

    async def cancel_reminder(self, reminder_id: int, agent: str | None, at: float) -> ReminderRecord | None:
        async def cancel(conn: Conn) -> ReminderRecord | None:
            row = await (await conn.execute(
                f"UPDATE reminders SET cancelled_at = %(at)s WHERE id = %(id)s AND {_PENDING} "
                "AND (%(agent)s::text IS NULL OR agent = %(agent)s) RETURNING *",
                {"at": at, "id": reminder_id, "agent": agent})).fetchone()
            return ReminderRecord(**row) if row else None

        return await self.db.write(cancel)

    # --- questions --------------------------------------------------------------------------------
    async def add_question(self, question: QuestionRecord,
                           notify: Callable[[QuestionRecord], NewMessage] | None) -> tuple[QuestionRecord,
                                                                                          MessageRecord | None]:
        async def insert(conn: Conn) -> tuple[QuestionRecord, MessageRecord | None]:
            q = question
            row = await (await conn.execute(
                "INSERT INTO questions (asker, target, question, options, multi, asked_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
                (q.asker, q.target, q.question, Jsonb(q.options), q.multi, q.asked_at, q.expires_at))).fetchone()
            if row is None:
                raise StoreError("the database returned no question row")
            stored = QuestionRecord(**row)
            message = (await insert_messages(conn, [notify(stored)]))[0] if notify is not None else None
            return stored, message

        return await self.db.write(insert)

    async def get_question(self, question_id: int) -> QuestionRecord | None:
        async def select(conn: Conn) -> QuestionRecord | None:
            row = await (await conn.execute("SELECT * FROM questions WHERE id = %s", (question_id,))).fetchone()
            return QuestionRecord(**row) if row else None

        return await self.db.read(select)

    async def questions(self, status: QuestionStatus | None = None, involving: str | None = None,
                        limit: int = 200) -> list[QuestionRecord]:
        async def select(conn: Conn) -> list[QuestionRecord]:
            rows = await (await conn.execute(
                "SELECT * FROM questions WHERE (%(status)s::text IS NULL OR status = %(status)s) "
                "AND (%(who)s::text IS NULL OR asker = %(who)s OR target = %(who)s) ORDER BY id DESC LIMIT %(limit)s",
                {"status": status, "who": involving, "limit": limit})).fetchall()
            return [QuestionRecord(**row) for row in rows]

        return await self.db.read(select)

    async def close_question(self, question_id: int, status: QuestionStatus, answer: str, by: str | None,
                             at: float, message: NewMessage) -> tuple[QuestionRecord, MessageRecord] | None:
        async def close(conn: Conn) -> tuple[QuestionRecord, MessageRecord] | None:
            row = await (await conn.execute(
                "UPDATE questions SET status = %s, answer = %s, answered_by = %s, answered_at = %s "
                "WHERE id = %s AND status = 'open' RETURNING *", (status, answer, by, at, question_id))).fetchone()
            if row is None:
                return None
            (stored,) = await insert_messages(conn, [message])
            return QuestionRecord(**row), stored

        return await self.db.write(close)
