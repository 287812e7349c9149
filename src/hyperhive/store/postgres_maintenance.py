"""The PostgreSQL side of MaintenanceStore. Freed space is PostgreSQL's autovacuum's to reclaim, so pruning
is the deletes alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields

from psycopg.types.json import Json

from ._pg_db import Conn, PostgresDatabase
from .maintenance import MaintenanceStore, Oldest
from .records import PruneResult, TurnStatsRecord

_TURN_COLUMNS = tuple(f.name for f in fields(TurnStatsRecord))
# An event is kept when its kind starts with one of the prefixes (audit kinds).
_NOT_KEPT = "NOT EXISTS (SELECT 1 FROM unnest(%(keep)s::text[]) AS p WHERE starts_with(kind, p))"


def _turn(row: dict[str, object]) -> TurnStatsRecord:
    return TurnStatsRecord(**{key: row[key] for key in _TURN_COLUMNS})  # type: ignore[arg-type]


class PostgresMaintenance(MaintenanceStore):
    db: PostgresDatabase

    async def drop_mail(self, recipient: str, at: float) -> list[int]:
        async def drop(conn: Conn) -> list[int]:
            rows = await (await conn.execute(
                "UPDATE messages SET dropped_at = %s, acked_at = %s WHERE recipient = %s AND acked_at IS NULL "
                "RETURNING id", (at, at, recipient))).fetchall()
            return sorted(row["id"] for row in rows)

        return await self.db.write(drop)

    async def prune_older(self, mail_before: float, events_before: float, keep_kind_prefixes: Sequence[str],
                          turn_stats_before: float) -> PruneResult:
        async def prune(conn: Conn) -> PruneResult:
            mail = await conn.execute(
                "DELETE FROM messages WHERE acked_at IS NOT NULL AND acked_at < %s AND delivered_at IS NOT NULL "
                "AND dropped_at IS NULL", (mail_before,))
            events = await conn.execute(f"DELETE FROM events WHERE at < %(before)s AND {_NOT_KEPT}",
                                        {"before": events_before, "keep": list(keep_kind_prefixes)})
            turns = await conn.execute("DELETE FROM turn_stats WHERE started_at < %s", (turn_stats_before,))
            return PruneResult(mail.rowcount, events.rowcount, turns.rowcount)

        return await self.db.write(prune)

    async def oldest_prunable(self, keep_kind_prefixes: Sequence[str]) -> Oldest:
        async def select(conn: Conn) -> Oldest:
            row = await (await conn.execute(
                "SELECT (SELECT min(acked_at) FROM messages WHERE acked_at IS NOT NULL AND delivered_at IS NOT NULL "
                "AND dropped_at IS NULL) AS mail, "
                f"(SELECT min(at) FROM events WHERE {_NOT_KEPT}) AS event, "
                "(SELECT min(started_at) FROM turn_stats) AS turn", {"keep": list(keep_kind_prefixes)})).fetchone()
            return (row["mail"], row["event"], row["turn"]) if row else (None, None, None)

        return await self.db.read(select)

    async def add_turn_stats(self, row: TurnStatsRecord) -> None:
        values = asdict(row)
        values["tool_breakdown"] = Json(values["tool_breakdown"])
        columns = ", ".join(_TURN_COLUMNS)
        marks = ", ".join(f"%({c})s" for c in _TURN_COLUMNS)

        async def insert(conn: Conn) -> None:
            await conn.execute(f"INSERT INTO turn_stats ({columns}) VALUES ({marks})", values)

        await self.db.write(insert)

    async def turn_stats(self, agent: str, since: float) -> list[TurnStatsRecord]:
        async def select(conn: Conn) -> list[TurnStatsRecord]:
            rows = await (await conn.execute(
                "SELECT * FROM turn_stats WHERE agent = %s AND started_at >= %s ORDER BY started_at, id",
                (agent, since))).fetchall()
            return [_turn(row) for row in rows]

        return await self.db.read(select)

    async def turn_stats_summary(self, since: float) -> dict[str, tuple[TurnStatsRecord, float]]:
        async def select(conn: Conn) -> dict[str, tuple[TurnStatsRecord, float]]:
            latest = await (await conn.execute(
                "SELECT DISTINCT ON (agent) * FROM turn_stats ORDER BY agent, id DESC")).fetchall()
            costs = {row["agent"]: float(row["cost"] or 0.0) for row in await (await conn.execute(
                "SELECT agent, sum(cost_usd) AS cost FROM turn_stats WHERE started_at >= %s GROUP BY agent",
                (since,))).fetchall()}
            return {row["agent"]: (_turn(row), costs.get(row["agent"], 0.0)) for row in latest}

        return await self.db.read(select)
