"""The SQLite side of MaintenanceStore."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, fields

from ._sqlite_db import SQLiteDatabase
from .maintenance import MaintenanceStore, Oldest
from .records import PruneResult, TurnStatsRecord

_TURN_COLUMNS = tuple(f.name for f in fields(TurnStatsRecord))
VACUUM_PAGES = 10_000  # pages handed back per pruning run: bounded work inside the write transaction


def _not_kept(prefixes: Sequence[str]) -> tuple[str, list[str]]:
    """A WHERE fragment: the event's kind starts with none of `prefixes`."""
    clause = " AND ".join("substr(kind, 1, ?) != ?" for _ in prefixes) or "1"
    args: list[str] = []
    for prefix in prefixes:
        args += [str(len(prefix)), prefix]
    return clause, args


def _turn(row: sqlite3.Row) -> TurnStatsRecord:
    values = {key: row[key] for key in _TURN_COLUMNS}
    values["ok"] = bool(values["ok"])
    values["tool_breakdown"] = json.loads(values["tool_breakdown"] or "{}")
    return TurnStatsRecord(**values)


class SQLiteMaintenance(MaintenanceStore):
    db: SQLiteDatabase

    async def drop_mail(self, recipient: str, at: float) -> list[int]:
        def drop(conn: sqlite3.Connection) -> list[int]:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM messages WHERE recipient = ? AND acked_at IS NULL ORDER BY id", (recipient,))]
            conn.execute("UPDATE messages SET dropped_at = ?, acked_at = ? WHERE recipient = ? AND acked_at IS NULL",
                         (at, at, recipient))
            return ids

        return await self.db.write(drop)

    async def prune_older(self, mail_before: float, events_before: float, keep_kind_prefixes: Sequence[str],
                          turn_stats_before: float) -> PruneResult:
        def prune(conn: sqlite3.Connection) -> PruneResult:
            mail = conn.execute(
                "DELETE FROM messages WHERE acked_at IS NOT NULL AND acked_at < ? AND delivered_at IS NOT NULL "
                "AND dropped_at IS NULL", (mail_before,)).rowcount
            clause, args = _not_kept(keep_kind_prefixes)
            events = conn.execute(f"DELETE FROM events WHERE at < ? AND {clause}", (events_before, *args)).rowcount
            turns = conn.execute("DELETE FROM turn_stats WHERE started_at < ?", (turn_stats_before,)).rowcount
            conn.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
            return PruneResult(mail, events, turns)

        return await self.db.write(prune)

    async def oldest_prunable(self, keep_kind_prefixes: Sequence[str]) -> Oldest:
        def select(conn: sqlite3.Connection) -> Oldest:
            mail = conn.execute("SELECT min(acked_at) FROM messages WHERE acked_at IS NOT NULL "
                                "AND delivered_at IS NOT NULL AND dropped_at IS NULL").fetchone()[0]
            clause, args = _not_kept(keep_kind_prefixes)
            event = conn.execute(f"SELECT min(at) FROM events WHERE {clause}", args).fetchone()[0]
            turn = conn.execute("SELECT min(started_at) FROM turn_stats").fetchone()[0]
            return mail, event, turn

        return await self.db.read(select)

    async def add_turn_stats(self, row: TurnStatsRecord) -> None:
        values = asdict(row)
        values["tool_breakdown"] = json.dumps(values["tool_breakdown"])
        columns = ", ".join(_TURN_COLUMNS)
        marks = ", ".join("?" * len(_TURN_COLUMNS))
        await self.db.write(lambda conn: conn.execute(
            f"INSERT INTO turn_stats ({columns}) VALUES ({marks})", [values[c] for c in _TURN_COLUMNS]))

    async def turn_stats(self, agent: str, since: float) -> list[TurnStatsRecord]:
        def select(conn: sqlite3.Connection) -> list[TurnStatsRecord]:
            rows = conn.execute("SELECT * FROM turn_stats WHERE agent = ? AND started_at >= ? ORDER BY started_at, id",
                                (agent, since))
            return [_turn(row) for row in rows]

        return await self.db.read(select)

    async def turn_stats_summary(self, since: float) -> dict[str, tuple[TurnStatsRecord, float]]:
        def select(conn: sqlite3.Connection) -> dict[str, tuple[TurnStatsRecord, float]]:
            latest = conn.execute(
                "SELECT * FROM turn_stats WHERE id IN (SELECT max(id) FROM turn_stats GROUP BY agent)").fetchall()
            costs = dict(conn.execute("SELECT agent, sum(cost_usd) FROM turn_stats WHERE started_at >= ? "
                                      "GROUP BY agent", (since,)).fetchall())
            return {row["agent"]: (_turn(row), float(costs.get(row["agent"]) or 0.0)) for row in latest}

        return await self.db.read(select)
