"""The `usage` verb: what the gateway metered, summed (hivectl usage, the dashboard's usage view)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperhive.gateway.prices import price_table
from hyperhive.protocol import host_requests as rq
from hyperhive.protocol import replies as rp
from hyperhive.protocol import rfc3339
from hyperhive.store.usage import UsageTotal

from .table import answers

if TYPE_CHECKING:
    from ..parts import HiveParts as Hive  # what the verbs act on (the doors in hive.py call them)


def total_view(total: UsageTotal) -> rp.UsageTotal:
    return rp.UsageTotal(key=total.key, calls=total.calls, input_tokens=total.input_tokens,
                         output_tokens=total.output_tokens, cache_read_tokens=total.cache_read_tokens,
                         cache_write_tokens=total.cache_write_tokens, tokens=total.tokens, cost_usd=total.cost_usd)


def sum_totals(rows: list[UsageTotal], key: str = "total") -> UsageTotal:
    return UsageTotal.of(key, sum(r.calls for r in rows), sum(r.input_tokens for r in rows),
                         sum(r.output_tokens for r in rows), sum(r.cache_read_tokens for r in rows),
                         sum(r.cache_write_tokens for r in rows), sum(r.cost_usd for r in rows))


@answers(rq.UsageReport)
async def usage_report(hive: Hive, req: rq.UsageReport) -> rp.Usage:
    if req.name is not None:
        hive.registry.require(req.name)
    since = hive.gateway.spend.clock.now() - req.since_seconds
    rows = await hive.store.usage_totals(req.by, since, agent=req.name)
    prices = price_table()
    return rp.Usage(usage=[total_view(r) for r in rows], total=total_view(sum_totals(rows)), by=req.by,
                    since=rfc3339(since), prices=rp.Prices(source=prices.source, retrieved=prices.retrieved))
