"""PostgreSQL side of UsageStore (mixed into PostgresStore)."""

from __future__ import annotations

from ._pg_db import Conn, PostgresDatabase
from .usage import UsageGrouping, UsageRecord, UsageStore, UsageTotal

_GROUP = {"agent": "agent", "model": "model", "day": "to_char(to_timestamp(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"}


class PostgresUsage(UsageStore):
    db: PostgresDatabase

    async def add_usage(self, records: list[UsageRecord]) -> None:
        async def insert(conn: Conn) -> None:
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO usage (at, agent, turn, model, input_tokens, output_tokens, cache_read_tokens, "
                    "cache_write_tokens, cost_usd, priced) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(r.at, r.agent, r.turn, r.model, r.input_tokens, r.output_tokens, r.cache_read_tokens,
                      r.cache_write_tokens, r.cost_usd, r.priced) for r in records])

        await self.db.write(insert)

    async def usage_totals(self, by: UsageGrouping, since: float, agent: str | None = None,
                           turn: int | None = None) -> list[UsageTotal]:
        order = "key" if by == "day" else "cost DESC, key"
        sql = (f"SELECT {_GROUP[by]} AS key, count(*) AS calls, sum(input_tokens) AS i, sum(output_tokens) AS o, "
               "sum(cache_read_tokens) AS cr, sum(cache_write_tokens) AS cw, sum(cost_usd) AS cost FROM usage "
               "WHERE at >= %(since)s AND (%(agent)s::text IS NULL OR agent = %(agent)s) "
               f"AND (%(turn)s::bigint IS NULL OR turn = %(turn)s) GROUP BY key ORDER BY {order}")

        async def select(conn: Conn) -> list[UsageTotal]:
            rows = await (await conn.execute(sql, {"since": since, "agent": agent, "turn": turn})).fetchall()
            return [UsageTotal.of(str(r["key"]), int(r["calls"]), int(r["i"]), int(r["o"]), int(r["cr"]), int(r["cw"]),
                                  float(r["cost"])) for r in rows]

        return await self.db.read(select)

    async def prune_usage(self, before: float) -> int:
        async def delete(conn: Conn) -> int:
            return (await conn.execute("DELETE FROM usage WHERE at < %s", (before,))).rowcount

        return await self.db.write(delete)
