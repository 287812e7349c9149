"""The SQLite side of NodeStore: one host, its own clock."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping

from ._sqlite_db import SQLiteDatabase
from .nodes import COMMAND_EXPIRED, COMMAND_PENDING, COMMAND_RUNNING, CommandRecord, LeaseRecord, NodeRecord, NodeStore


class SQLiteNodes(NodeStore):
    db: SQLiteDatabase

    async def node_beat(self, node: str, starting: bool = False) -> int:
        def beat(conn: sqlite3.Connection) -> int:
            now = time.time()
            row = conn.execute(
                "INSERT INTO nodes (name, started_at, seen_at, epoch) VALUES (?, ?, ?, 1) ON CONFLICT (name) DO UPDATE "
                "SET seen_at = excluded.seen_at, stopped_at = NULL, "
                "started_at = CASE WHEN ? THEN excluded.started_at ELSE nodes.started_at END, "
                "epoch = CASE WHEN ? THEN nodes.epoch + 1 ELSE nodes.epoch END RETURNING epoch",
                (node, now, now, starting, starting)).fetchone()
            return int(row["epoch"])

        return await self.db.write(beat)

    async def node_leave(self, node: str) -> None:
        def leave(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE nodes SET stopped_at = ? WHERE name = ?", (time.time(), node))

        await self.db.write(leave)

    async def list_nodes(self) -> list[NodeRecord]:
        def select(conn: sqlite3.Connection) -> list[NodeRecord]:
            now = time.time()
            return [NodeRecord(r["name"], r["started_at"], r["seen_at"], now - r["seen_at"],
                               r["stopped_at"] is not None) for r in conn.execute("SELECT * FROM nodes ORDER BY name")]

        return await self.db.read(select)

    async def claim_lease(self, name: str, holder: str, ttl: float) -> LeaseRecord | None:
        def claim(conn: sqlite3.Connection) -> LeaseRecord | None:
            now = time.time()
            row = conn.execute(
                "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?) ON CONFLICT (name) DO UPDATE "
                "SET epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END, "
                "holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ? RETURNING *",
                (name, holder, now + ttl, now)).fetchone()
            return LeaseRecord(row["name"], row["holder"], row["epoch"], row["expires_at"]) if row else None

        return await self.db.write(claim)

    async def release_lease(self, name: str, holder: str) -> None:
        def release(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?", (name, holder))

        await self.db.write(release)

    # --- commands (one node on SQLite: kept for the contract, never needed between nodes) -------------
    async def add_command(self, node: str, agent: str, verb: str, args: Mapping[str, object]) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute("INSERT INTO node_commands (node, agent, verb, args, created_at) "
                                  "VALUES (?, ?, ?, ?, ?)", (node, agent, verb, json.dumps(args), time.time()))
            return int(cursor.lastrowid or 0)

        return await self.db.write(insert)

    async def claim_commands(self, node: str, max_age: float) -> list[CommandRecord]:
        def claim(conn: sqlite3.Connection) -> list[CommandRecord]:
            rows = conn.execute(
                "UPDATE node_commands SET status = ? WHERE node = ? AND status = ? AND created_at > ? RETURNING *",
                (COMMAND_RUNNING, node, COMMAND_PENDING, time.time() - max_age)).fetchall()
            return sorted((_command(row) for row in rows), key=lambda c: c.id)

        return await self.db.write(claim)

    async def finish_command(self, command_id: int, error_code: str | None = None, error: str | None = None) -> None:
        def finish(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE node_commands SET status = ?, error_code = ?, error = ?, finished_at = ? WHERE id = ?",
                         ("failed" if error_code else "done", error_code, error, time.time(), command_id))

        await self.db.write(finish)

    async def expire_command(self, command_id: int) -> bool:
        def expire(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("UPDATE node_commands SET status = ?, finished_at = ? WHERE id = ? AND status = ?",
                                  (COMMAND_EXPIRED, time.time(), command_id, COMMAND_PENDING))
            return cursor.rowcount == 1

        return await self.db.write(expire)

    async def get_command(self, command_id: int) -> CommandRecord | None:
        def select(conn: sqlite3.Connection) -> CommandRecord | None:
            row = conn.execute("SELECT * FROM node_commands WHERE id = ?", (command_id,)).fetchone()
            return _command(row) if row else None

        return await self.db.read(select)


def _command(row: sqlite3.Row) -> CommandRecord:
    return CommandRecord(id=row["id"], node=row["node"], agent=row["agent"], verb=row["verb"],
                         args=json.loads(row["args"]), status=row["status"], error_code=row["error_code"],
                         error=row["error"])
