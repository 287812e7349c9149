"""SQLite side of UsageStore (mixed into SQLiteStore)."""

from __future__ import annotations

import sqlite3

from ._sqlite_db import SQLiteDatabase
from .usage import UsageGrouping, UsageRecord, UsageStore, UsageTotal

_GROUP = {"agent": "agent", "model": "model", "day": "strftime('%Y-%m-%d', at, 'unixepoch')"}
_SUMS = ("count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
         "sum(cost_usd)")


class SQLiteUsage(UsageStore):
    db: SQLiteDatabase

    async def add_usage(self, records: list[UsageRecord]) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO usage (at, agent, turn, model, input_tokens, output_tokens, cache_read_tokens, "
                "cache_write_tokens, cost_usd, priced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.at, r.agent, r.turn, r.model, r.input_tokens, r.output_tokens, r.cache_read_tokens,
                  r.cache_write_tokens, r.cost_usd, int(r.priced)) for r in records])

        await self.db.write(insert)

    async def usage_totals(self, by: UsageGrouping, since: float, agent: str | None = None,
                           turn: int | None = None) -> list[UsageTotal]:
        where: list[str] = ["at >= ?"]
        args: list[object] = [since]
        if agent is not None:
            where.append("agent = ?")
            args.append(agent)
        if turn is not None:
            where.append("turn = ?")
            args.append(turn)
        group = _GROUP[by]
        order = "key" if by == "day" else "7 DESC, key"  # column 7: the cost
        sql = (f"SELECT {group} AS key, {_SUMS} FROM usage WHERE {' AND '.join(where)} "
               f"GROUP BY key ORDER BY {order}")

        def select(conn: sqlite3.Connection) -> list[UsageTotal]:
            return [UsageTotal.of(str(row[0]), row[1], row[2], row[3], row[4], row[5], row[6])
                    for row in conn.execute(sql, args)]

        return await self.db.read(select)

    async def prune_usage(self, before: float) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM usage WHERE at < ?", (before,)).rowcount

        return await self.db.write(delete)
