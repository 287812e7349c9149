"""The SQLite backend of the Store: the embedded default."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ._shared import agent_insert
from ._sqlite_db import SQLiteDatabase, Where
from .base import OnCommit, Store, StoreError
from .migrate import migrate_sqlite
from .records import (
    AGENT_MUTABLE_FIELDS,
    AgentRecord,
    EventRecord,
    MessageRecord,
    NewEvent,
    NewMessage,
)
from .sqlite_approvals import SQLiteApprovals
from .sqlite_loose_ends import SQLiteLooseEnds
from .sqlite_maintenance import SQLiteMaintenance
from .sqlite_messages import insert_messages
from .sqlite_nodes import SQLiteNodes
from .sqlite_schedules import SQLiteSchedules
from .sqlite_usage import SQLiteUsage

_MESSAGE_COLUMNS = "id, sender, recipient, body, sent_at, delivered_at, acked_at, in_reply_to, broadcast, dropped_at"
_BOOL_AGENT_FIELDS = ("paused", "needs_login", "needs_update")


class SQLiteStore(SQLiteLooseEnds, SQLiteApprovals, SQLiteSchedules, SQLiteMaintenance, SQLiteUsage, SQLiteNodes,
                  Store):
    hands_off = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = SQLiteDatabase(path)

    async def open(self) -> None:
        self.db.start(_prepare)

    async def close(self) -> None:
        self.db.stop()

    # --- agents -----------------------------------------------------------------------------------
    async def create_agent(self, agent: AgentRecord) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(*agent_insert(agent, "?"))
            except sqlite3.IntegrityError:
                raise StoreError(f"an agent named {agent.name!r} already exists") from None

        await self.db.write(insert)

    async def get_agent(self, name: str) -> AgentRecord | None:
        def select(conn: sqlite3.Connection) -> AgentRecord | None:
            row = conn.execute("SELECT * FROM agents WHERE name = ?", (name,)).fetchone()
            return _agent(row) if row else None

        return await self.db.read(select)

    async def list_agents(self) -> list[AgentRecord]:
        def select(conn: sqlite3.Connection) -> list[AgentRecord]:
            return [_agent(row) for row in conn.execute("SELECT * FROM agents ORDER BY name")]

        return await self.db.read(select)

    async def update_agent(self, name: str, **fields: Any) -> AgentRecord:
        unknown = set(fields) - AGENT_MUTABLE_FIELDS
        if unknown:
            raise ValueError(f"not mutable agent fields: {sorted(unknown)}")

        def update(conn: sqlite3.Connection) -> AgentRecord:
            if fields:
                assignments = ", ".join(f"{key} = ?" for key in fields)
                conn.execute(f"UPDATE agents SET {assignments} WHERE name = ?", (*fields.values(), name))
            row = conn.execute("SELECT * FROM agents WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StoreError(f"no agent named {name!r}")
            return _agent(row)

        return await self.db.write(update)

    async def delete_agent(self, name: str) -> None:
        await self.db.write(lambda conn: conn.execute("DELETE FROM agents WHERE name = ?", (name,)))

    # --- messages ---------------------------------------------------------------------------------
    async def insert_messages(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        return await self.insert_messages_now(messages)

    def insert_messages_now(self, messages: Sequence[NewMessage],
                            on_commit: OnCommit | None = None) -> asyncio.Future[list[MessageRecord]]:
        return self.db.submit(lambda conn: insert_messages(conn, messages), replayable=True, on_done=on_commit)

    async def get_message(self, message_id: int) -> MessageRecord | None:
        def select(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
            return _message(row) if row else None

        return await self.db.read(select)

    async def unacked_messages(
        self, recipient: str, limit: int, exclude_ids: Iterable[int] = ()
    ) -> list[MessageRecord]:
        excluded = list(exclude_ids)
        return await self.db.read(lambda conn: _unacked(conn, recipient, limit, excluded))

    async def count_unacked(self, recipient: str) -> int:
        return await self.db.read(lambda conn: _count_unacked(conn, recipient))

    async def unacked_and_count(
        self, recipient: str, limit: int, exclude_ids: Iterable[int] = ()
    ) -> tuple[list[MessageRecord], int]:
        excluded = list(exclude_ids)

        def select(conn: sqlite3.Connection) -> tuple[list[MessageRecord], int]:
            conn.execute("BEGIN")  # one snapshot for both: the count includes exactly the messages read
            try:
                return _unacked(conn, recipient, limit, excluded), _count_unacked(conn, recipient)
            finally:
                conn.execute("COMMIT")

        return await self.db.read(select)

    async def unacked_counts(self) -> dict[str, int]:
        def count(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(
                "SELECT recipient, count(*) FROM messages WHERE acked_at IS NULL GROUP BY recipient"
            )
            return {row[0]: int(row[1]) for row in rows}

        return await self.db.read(count)

    async def mark_delivered(self, ids: Sequence[int], at: float) -> None:
        def update(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE messages SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                [(at, i) for i in ids],
            )

        await self.db.write(update, replayable=True)

    async def ack_messages(self, recipient: str, ids: Sequence[int], at: float) -> list[int]:
        def update(conn: sqlite3.Connection) -> list[int]:
            acked = []
            for message_id in ids:
                cursor = conn.execute(
                    "UPDATE messages SET acked_at = ?, delivered_at = coalesce(delivered_at, ?) "
                    "WHERE id = ? AND recipient = ? AND acked_at IS NULL",
                    (at, at, message_id, recipient),
                )
                if cursor.rowcount:
                    acked.append(message_id)
            return acked

        return await self.db.write(update, replayable=True)

    async def recent_messages(
        self, limit: int, before_id: int | None = None, involving: str | None = None
    ) -> list[MessageRecord]:
        def select(conn: sqlite3.Connection) -> list[MessageRecord]:
            where = Where().when("id < ?", before_id).either("sender", "recipient", involving)
            return [_message(row) for row in where.newest(conn, f"SELECT {_MESSAGE_COLUMNS} FROM messages", limit)]

        return await self.db.read(select)

    async def inbox_messages(self, recipient: str, limit: int, unread_only: bool) -> list[MessageRecord]:
        def select(conn: sqlite3.Connection) -> list[MessageRecord]:
            unread = "AND acked_at IS NULL" if unread_only else ""
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE recipient = ? {unread} ORDER BY id DESC LIMIT ?",
                (recipient, limit),
            )
            return [_message(row) for row in rows]

        return await self.db.read(select)

    # --- events -----------------------------------------------------------------------------------
    async def append_events(self, events: Sequence[NewEvent]) -> list[EventRecord]:
        def insert(conn: sqlite3.Connection) -> list[EventRecord]:
            stored = []
            for e in events:
                at = e.at if e.at is not None else time.time()
                cursor = conn.execute(
                    "INSERT INTO events (at, agent, kind, payload) VALUES (?, ?, ?, ?)",
                    (at, e.agent, e.kind, json.dumps(e.payload, ensure_ascii=False)),
                )
                assert cursor.lastrowid is not None
                stored.append(EventRecord(cursor.lastrowid, at, e.agent, e.kind, e.payload))
            return stored

        return await self.db.write(insert)

    async def events_after(
        self, after_seq: int, agent: str | None = None, kinds: Sequence[str] | None = None, limit: int = 200
    ) -> list[EventRecord]:
        where = _event_filter(agent, kinds).add("seq > ?", after_seq)
        return await self.db.read(lambda conn: _select_events(conn, where, limit, newest=False))

    async def events_before(
        self, before_seq: int | None, agent: str | None = None, kinds: Sequence[str] | None = None, limit: int = 200
    ) -> list[EventRecord]:
        where = _event_filter(agent, kinds)
        if before_seq is not None:
            where.add("seq < ?", before_seq)
        return await self.db.read(lambda conn: _select_events(conn, where, limit, newest=True))

    async def max_event_seq(self) -> int:
        def select(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

        return await self.db.read(select)

    async def prune_events(self, agent: str, kind_prefix: str, keep: int) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "DELETE FROM events WHERE agent = ? AND kind LIKE ? || '%' AND seq NOT IN "
                "(SELECT seq FROM events WHERE agent = ? AND kind LIKE ? || '%' ORDER BY seq DESC LIMIT ?)",
                (agent, kind_prefix, agent, kind_prefix, keep),
            )
            return cursor.rowcount

        return await self.db.write(delete)


def _prepare(conn: sqlite3.Connection) -> None:
    """Incremental auto-vacuum, so retention's deletes can give pages back a bounded batch at a time; a
    database made before it is rebuilt once (VACUUM) to switch."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    migrate_sqlite(conn)


def _unacked(conn: sqlite3.Connection, recipient: str, limit: int, excluded: list[int]) -> list[MessageRecord]:
    skip = f"AND id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE recipient = ? AND acked_at IS NULL {skip} ORDER BY id LIMIT ?",
        (recipient, *excluded, limit),
    )
    return [_message(row) for row in rows]


def _count_unacked(conn: sqlite3.Connection, recipient: str) -> int:
    sql = "SELECT count(*) FROM messages WHERE recipient = ? AND acked_at IS NULL"
    return int(conn.execute(sql, (recipient,)).fetchone()[0])


def _event_filter(agent: str | None, kinds: Sequence[str] | None) -> Where:
    where = Where()
    if agent is not None:
        where.add("agent = ?", agent)
    if kinds:
        where.add_in("kind", kinds)
    return where


def _select_events(conn: sqlite3.Connection, where: Where, limit: int, *, newest: bool) -> list[EventRecord]:
    """The events matching `where`, oldest first: the first `limit` of them, or (`newest`) the last."""
    rows = conn.execute(f"SELECT seq, at, agent, kind, payload FROM events {where.sql} "
                        f"ORDER BY seq {'DESC' if newest else 'ASC'} LIMIT ?", (*where.args, limit)).fetchall()
    if newest:
        rows.reverse()
    return [EventRecord(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def _agent(row: sqlite3.Row) -> AgentRecord:
    values = dict(row)
    for key in _BOOL_AGENT_FIELDS:
        values[key] = bool(values[key])
    return AgentRecord(**values)


def _message(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(id=row[0], sender=row[1], recipient=row[2], body=row[3], sent_at=row[4], delivered_at=row[5],
                         acked_at=row[6], in_reply_to=row[7], broadcast=bool(row[8]), dropped_at=row[9])
