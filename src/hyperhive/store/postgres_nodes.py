"""The PostgreSQL side of NodeStore. Every time is the database's clock (`clock_timestamp()`), so a lease
expires at the same moment for every node, whatever their own clocks say."""

from __future__ import annotations

from ._pg_db import Conn, PostgresDatabase
from .nodes import LeaseRecord, NodeRecord, NodeStore

_NOW = "extract(epoch from clock_timestamp())"


class PostgresNodes(NodeStore):
    db: PostgresDatabase

    async def node_beat(self, node: str, starting: bool = False) -> None:
        async def beat(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO nodes (name, started_at, seen_at) VALUES (%(node)s, {_NOW}, {_NOW}) "
                "ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at, "
                "started_at = CASE WHEN %(starting)s THEN excluded.started_at ELSE nodes.started_at END",
                {"node": node, "starting": starting})

        await self.db.write(beat)

    async def list_nodes(self) -> list[NodeRecord]:
        async def select(conn: Conn) -> list[NodeRecord]:
            rows = await (await conn.execute(
                f"SELECT name, started_at, seen_at, {_NOW} - seen_at AS age FROM nodes ORDER BY name")).fetchall()
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
