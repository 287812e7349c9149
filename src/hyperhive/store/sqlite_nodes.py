"""The SQLite side of NodeStore: one host, its own clock."""

from __future__ import annotations

import sqlite3
import time

from ._sqlite_db import SQLiteDatabase
from .nodes import LeaseRecord, NodeRecord, NodeStore


class SQLiteNodes(NodeStore):
    db: SQLiteDatabase

    async def node_beat(self, node: str, starting: bool = False) -> None:
        def beat(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("INSERT INTO nodes (name, started_at, seen_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                         "SET seen_at = excluded.seen_at, started_at = CASE WHEN ? THEN excluded.started_at "
                         "ELSE nodes.started_at END", (node, now, now, starting))

        await self.db.write(beat)

    async def list_nodes(self) -> list[NodeRecord]:
        def select(conn: sqlite3.Connection) -> list[NodeRecord]:
            now = time.time()
            return [NodeRecord(r["name"], r["started_at"], r["seen_at"], now - r["seen_at"])
                    for r in conn.execute("SELECT * FROM nodes ORDER BY name")]

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
