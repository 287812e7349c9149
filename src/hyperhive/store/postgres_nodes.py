"""The PostgreSQL side of NodeStore. Every time is the database's clock (`clock_timestamp()`), so a lease
expires at the same moment for every node, whatever their own clocks say. Whatever other nodes must hear of
(a node starting or leaving, a command queued, claimed or finished) is NOTIFYed in the writing
transaction, so the news leaves exactly when it is committed."""

from __future__ import annotations

import json
from typing import Any

from psycopg.rows import DictRow

from ._pg_db import Conn, PostgresDatabase
from .nodes import (
    COMMAND_EXPIRED,
    COMMAND_PENDING,
    COMMAND_RUNNING,
    Channel,
    CommandRecord,
    LeaseRecord,
    NodeRecord,
    NodeStore,
)

_NOW = "extract(epoch from clock_timestamp())"


async def notify(conn: Conn, channel: Channel, payload: str) -> None:
    await conn.execute("SELECT pg_notify(%s, %s)", (channel.value, payload))


class PostgresNodes(NodeStore):
    db: PostgresDatabase

    async def node_beat(self, node: str, starting: bool = False) -> int:
        async def beat(conn: Conn) -> int:
            row = await (await conn.execute(
                f"INSERT INTO nodes (name, started_at, seen_at, epoch) VALUES (%(node)s, {_NOW}, {_NOW}, 1) "
                "ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at, stopped_at = NULL, "
                "started_at = CASE WHEN %(starting)s THEN excluded.started_at ELSE nodes.started_at END, "
                "epoch = CASE WHEN %(starting)s THEN nodes.epoch + 1 ELSE nodes.epoch END RETURNING epoch",
                {"node": node, "starting": starting})).fetchone()
            assert row is not None
            holder = self.mail_holder
            if holder is not None and holder.node == node:  # mail in hand stays this incarnation's
                await conn.execute(
                    f"UPDATE messages SET lease_expires = {_NOW} + %s WHERE lease_owner = %s AND lease_epoch = %s "
                    "AND acked_at IS NULL", (holder.ttl, holder.node, holder.epoch))
            await notify(conn, Channel.NODES, f"beat:{node}")  # the others re-arm its lapse timer
            return int(row["epoch"])

        return await self.db.write(beat)

    async def node_leave(self, node: str) -> None:
        async def leave(conn: Conn) -> None:
            await conn.execute(f"UPDATE nodes SET stopped_at = {_NOW} WHERE name = %s", (node,))
            await notify(conn, Channel.NODES, f"leave:{node}")

        await self.db.write(leave)

    async def list_nodes(self) -> list[NodeRecord]:
        async def select(conn: Conn) -> list[NodeRecord]:
            rows = await (await conn.execute(
                f"SELECT name, started_at, seen_at, {_NOW} - seen_at AS age, stopped_at IS NOT NULL AS stopped "
                "FROM nodes ORDER BY name")).fetchall()
            return [NodeRecord(**row) for row in rows]

        return await self.db.read(select)

    async def claim_lease(self, name: str, holder: str, ttl: float) -> LeaseRecord | None:
        async def claim(conn: Conn) -> LeaseRecord | None:
            row = await (await conn.execute(
                "INSERT INTO leases (name, holder, epoch, expires_at) "
                f"VALUES (%(name)s, %(holder)s, 1, {_NOW} + %(ttl)s) "
                "ON CONFLICT (name) DO UPDATE "
                "SET epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END, "
                "holder = excluded.holder, expires_at = excluded.expires_at "
                f"WHERE leases.holder = excluded.holder OR leases.expires_at <= {_NOW} RETURNING *",
                {"name": name, "holder": holder, "ttl": ttl})).fetchone()
            return LeaseRecord(**row) if row else None

        return await self.db.write(claim)

    async def release_lease(self, name: str, holder: str) -> None:
        async def release(conn: Conn) -> None:
            await conn.execute("UPDATE leases SET expires_at = 0 WHERE name = %s AND holder = %s", (name, holder))

        await self.db.write(release)

    # --- commands ---------------------------------------------------------------------------------
    async def add_command(self, node: str, agent: str, verb: str, args: dict[str, Any]) -> int:
        async def insert(conn: Conn) -> int:
            row = await (await conn.execute(
                f"INSERT INTO node_commands (node, agent, verb, args, created_at) VALUES (%s, %s, %s, %s, {_NOW}) "
                "RETURNING id", (node, agent, verb, json.dumps(args)))).fetchone()
            assert row is not None
            await notify(conn, Channel.COMMANDS, node)
            return int(row["id"])

        return await self.db.write(insert)

    async def claim_commands(self, node: str, max_age: float) -> list[CommandRecord]:
        async def claim(conn: Conn) -> list[CommandRecord]:
            rows = await (await conn.execute(
                "UPDATE node_commands SET status = %s WHERE id IN (SELECT id FROM node_commands "
                f"WHERE node = %s AND status = %s AND created_at > {_NOW} - %s ORDER BY id FOR UPDATE SKIP LOCKED) "
                "RETURNING *", (COMMAND_RUNNING, node, COMMAND_PENDING, max_age))).fetchall()
            for row in rows:
                await notify(conn, Channel.COMMAND_DONE, str(row["id"]))
            return sorted((_command(row) for row in rows), key=lambda c: c.id)

        return await self.db.write(claim)

    async def finish_command(self, command_id: int, error_code: str | None = None, error: str | None = None) -> None:
        async def finish(conn: Conn) -> None:
            await conn.execute(
                f"UPDATE node_commands SET status = %s, error_code = %s, error = %s, finished_at = {_NOW} "
                "WHERE id = %s", ("failed" if error_code else "done", error_code, error, command_id))
            await notify(conn, Channel.COMMAND_DONE, str(command_id))

        await self.db.write(finish)

    async def expire_command(self, command_id: int) -> bool:
        async def expire(conn: Conn) -> bool:
            cursor = await conn.execute(
                f"UPDATE node_commands SET status = %s, finished_at = {_NOW} WHERE id = %s AND status = %s",
                (COMMAND_EXPIRED, command_id, COMMAND_PENDING))
            return cursor.rowcount == 1

        return await self.db.write(expire)

    async def get_command(self, command_id: int) -> CommandRecord | None:
        async def select(conn: Conn) -> CommandRecord | None:
            row = await (await conn.execute("SELECT * FROM node_commands WHERE id = %s", (command_id,))).fetchone()
            return _command(row) if row else None

        return await self.db.read(select)


def _command(row: DictRow) -> CommandRecord:
    return CommandRecord(id=row["id"], node=row["node"], agent=row["agent"], verb=row["verb"],
                         args=json.loads(row["args"]), status=row["status"], error_code=row["error_code"],
                         error=row["error"])
