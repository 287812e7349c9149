"""PostgreSQL side of ScheduleStore (mixed into PostgresStore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from ._pg_db import Conn, PostgresDatabase
from .base import StoreError
from .postgres_messages import insert_messages
from .records import MessageRecord, NewMessage, ScheduleRecord, ScheduleStatus
from .schedules import SCHEDULE_MUTABLE_FIELDS, ScheduleStore


class PostgresSchedules(ScheduleStore):
    db: PostgresDatabase

    async def add_schedule(self, targets: Sequence[str], body: str, description: str, first_fire_at: float,
                           interval_seconds: float | None, status: ScheduleStatus, created_by: str,
                           approval_id: int | None, at: float) -> ScheduleRecord:
        async def insert(conn: Conn) -> ScheduleRecord:
            return await _one_schedule(await conn.execute(
                "INSERT INTO schedules (targets, body, description, first_fire_at, next_fire_at, interval_seconds, "
                "status, created_by, approval_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "RETURNING *", (Jsonb(list(targets)), body, description, first_fire_at, first_fire_at,
                                interval_seconds, status, created_by, approval_id, at)), None)

        return await self.db.write(insert)

    async def get_schedule(self, schedule_id: int) -> ScheduleRecord | None:
        async def select(conn: Conn) -> ScheduleRecord | None:
            row = await (await conn.execute("SELECT * FROM schedules WHERE id = %s", (schedule_id,))).fetchone()
            return ScheduleRecord(**row) if row else None

        return await self.db.read(select)

    async def list_schedules(self, statuses: Sequence[ScheduleStatus] | None = None) -> list[ScheduleRecord]:
        async def select(conn: Conn) -> list[ScheduleRecord]:
            rows = await (await conn.execute(
                "SELECT * FROM schedules WHERE (%(s)s::text[] IS NULL OR status = ANY(%(s)s)) ORDER BY id",
                {"s": list(statuses) if statuses else None})).fetchall()
            return [ScheduleRecord(**row) for row in rows]

        return await self.db.read(select)

    async def update_schedule(self, schedule_id: int, **fields: Any) -> ScheduleRecord:
        unknown = set(fields) - SCHEDULE_MUTABLE_FIELDS
        if unknown:
            raise ValueError(f"not mutable schedule fields: {sorted(unknown)}")
        values = {k: Jsonb(list(v)) if k == "targets" else v for k, v in fields.items()}

        async def update(conn: Conn) -> ScheduleRecord:
            if values:  # keys checked against SCHEDULE_MUTABLE_FIELDS above
                assignments = ", ".join(f"{key} = %s" for key in values)
                await conn.execute(f"UPDATE schedules SET {assignments} WHERE id = %s",
                                   (*values.values(), schedule_id))
            return await _one_schedule(
                await conn.execute("SELECT * FROM schedules WHERE id = %s", (schedule_id,)), schedule_id)

        return await self.db.write(update)

    async def fire_schedule(self, schedule_id: int, messages: Sequence[NewMessage], next_fire_at: float | None,
                            at: float, slot: float | None = None) -> list[MessageRecord] | None:
        async def fire(conn: Conn) -> list[MessageRecord] | None:
            cursor = await conn.execute(
                "UPDATE schedules SET next_fire_at = %(next)s, last_fired_at = %(at)s, fire_count = fire_count + 1, "
                "status = CASE WHEN %(next)s::double precision IS NULL AND status = 'active' THEN 'done' "
                "ELSE status END WHERE id = %(id)s AND status IN ('active', 'paused') "
                "AND (%(slot)s::double precision IS NULL OR next_fire_at = %(slot)s)",  # the row lock settles a race
                {"next": next_fire_at, "at": at, "id": schedule_id, "slot": slot})
            if cursor.rowcount == 0:
                return None
            return await insert_messages(conn, messages)

        return await self.db.write(fire)


async def _one_schedule(cursor: Any, schedule_id: int | None) -> ScheduleRecord:
    row = await cursor.fetchone()
    if row is None:
        raise StoreError(f"no schedule #{schedule_id}")
    return ScheduleRecord(**row)
