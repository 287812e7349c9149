"""SQLite side of ScheduleStore (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ._sqlite_db import SQLiteDatabase, Where
from .base import StoreError
from .records import MessageRecord, NewMessage, ScheduleRecord, ScheduleStatus
from .schedules import SCHEDULE_MUTABLE_FIELDS, ScheduleStore
from .sqlite_messages import insert_messages


class SQLiteSchedules(ScheduleStore):
    db: SQLiteDatabase

    async def add_schedule(self, targets: Sequence[str], body: str, description: str, first_fire_at: float,
                           interval_seconds: float | None, status: ScheduleStatus, created_by: str,
                           approval_id: int | None, at: float) -> ScheduleRecord:
        def insert(conn: sqlite3.Connection) -> ScheduleRecord:
            cursor = conn.execute(
                "INSERT INTO schedules (targets, body, description, first_fire_at, next_fire_at, interval_seconds, "
                "status, created_by, approval_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (json.dumps(list(targets)), body, description, first_fire_at, first_fire_at, interval_seconds,
                 status, created_by, approval_id, at),
            )
            assert cursor.lastrowid is not None
            return _schedule(conn, cursor.lastrowid)

        return await self.db.write(insert)

    async def get_schedule(self, schedule_id: int) -> ScheduleRecord | None:
        def select(conn: sqlite3.Connection) -> ScheduleRecord | None:
            row = conn.execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
            return _schedule_row(row) if row else None

        return await self.db.read(select)

    async def list_schedules(self, statuses: Sequence[ScheduleStatus] | None = None) -> list[ScheduleRecord]:
        def select(conn: sqlite3.Connection) -> list[ScheduleRecord]:
            where = Where().add_in("status", statuses) if statuses else Where()
            rows = conn.execute(f"SELECT * FROM schedules {where.sql} ORDER BY id", where.args)
            return [_schedule_row(row) for row in rows]

        return await self.db.read(select)

    async def update_schedule(self, schedule_id: int, **fields: Any) -> ScheduleRecord:
        unknown = set(fields) - SCHEDULE_MUTABLE_FIELDS
        if unknown:
            raise ValueError(f"not mutable schedule fields: {sorted(unknown)}")
        values = {k: json.dumps(v) if k == "targets" else v for k, v in fields.items()}

        def update(conn: sqlite3.Connection) -> ScheduleRecord:
            if values:
                assignments = ", ".join(f"{key} = ?" for key in values)
                conn.execute(f"UPDATE schedules SET {assignments} WHERE id = ?", (*values.values(), schedule_id))
            return _schedule(conn, schedule_id)

        return await self.db.write(update)

    async def fire_schedule(self, schedule_id: int, messages: Sequence[NewMessage], next_fire_at: float | None,
                            at: float, slot: float | None = None) -> list[MessageRecord] | None:
        def fire(conn: sqlite3.Connection) -> list[MessageRecord] | None:
            cursor = conn.execute(
                "UPDATE schedules SET next_fire_at = ?, last_fired_at = ?, fire_count = fire_count + 1, "
                "status = CASE WHEN ? IS NULL AND status = 'active' THEN 'done' ELSE status END "
                "WHERE id = ? AND status IN ('active', 'paused') AND (? IS NULL OR next_fire_at = ?)",
                (next_fire_at, at, next_fire_at, schedule_id, slot, slot))
            if cursor.rowcount == 0:
                return None
            return insert_messages(conn, messages)

        return await self.db.write(fire)


def _schedule(conn: sqlite3.Connection, schedule_id: int) -> ScheduleRecord:
    row = conn.execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    if row is None:
        raise StoreError(f"no schedule #{schedule_id}")
    return _schedule_row(row)


def _schedule_row(row: sqlite3.Row) -> ScheduleRecord:
    values = dict(row)
    values["targets"] = json.loads(values["targets"])
    return ScheduleRecord(**values)
