"""The usage view: what the gateway metered, per agent today / 7 days / 30 days, the hive's total, and a
bar chart of cost per day (inline SVG, drawn here: no script, no JS build). `/usage.json` is its twin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel
from starlette.requests import Request
from typing_extensions import TypedDict  # pydantic validates these on Python < 3.12

from hyperhive.core.verbs.usage import sum_totals, total_view
from hyperhive.gateway.budgets import day_start
from hyperhive.gateway.prices import price_table
from hyperhive.protocol import replies as rp
from hyperhive.store.usage import UsageTotal

from .responses import json_route

if TYPE_CHECKING:
    from .dashboard import Dashboard

DAY = 86400
SPANS = (("today", None), ("7d", 7), ("30d", 30))
CHART_DAYS = 30
CHART_W, CHART_H, BAR_GAP = 600, 120, 2


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


AgentUsage = TypedDict("AgentUsage", {  # the spans' names start with digits: the functional form
    "agent": str, "today": rp.UsageTotal, "7d": rp.UsageTotal, "30d": rp.UsageTotal, "budget_exhausted": bool})


class UsagePage(BaseModel):
    agents: list[AgentUsage]
    hive: dict[str, rp.UsageTotal]  # by span: today, 7d, 30d
    days: list[rp.UsageTotal]  # the chart's, oldest first
    prices: rp.Prices


async def usage_snapshot(d: Dashboard) -> UsagePage:
    spend = d.hive.gateway.spend
    now = spend.clock.now()
    today = day_start(now)
    spans: dict[str, list[UsageTotal]] = {}
    for label, span in SPANS:
        since = today if span is None else now - span * DAY
        spans[label] = await d.hive.store.usage_totals("agent", since)
    agents = sorted({t.key for rows in spans.values() for t in rows} | set(d.hive.registry.agent_names()))
    by_agent: list[AgentUsage] = [
        {"agent": name, "today": _cell(spans["today"], name), "7d": _cell(spans["7d"], name),
         "30d": _cell(spans["30d"], name), "budget_exhausted": spend.exhausted(name) is not None} for name in agents]
    days = await d.hive.store.usage_totals("day", today - (CHART_DAYS - 1) * DAY)
    prices = price_table()
    return UsagePage(agents=by_agent, hive={label: total_view(sum_totals(rows)) for label, rows in spans.items()},
                     days=[total_view(t) for t in days],
                     prices=rp.Prices(source=prices.source, retrieved=prices.retrieved))


def _cell(rows: list[UsageTotal], agent: str) -> rp.UsageTotal:
    found = next((r for r in rows if r.key == agent), None)
    return total_view(found or UsageTotal.of(agent, 0, 0, 0, 0, 0, 0.0))


def cost_bars(days: list[rp.UsageTotal]) -> list[Bar]:
    """One bar per day with any usage, scaled to the costliest day."""
    if not days:
        return []
    top = max(day.cost_usd for day in days) or 1.0
    width = CHART_W / max(len(days), 7)
    return [Bar(i * width, CHART_H - CHART_H * day.cost_usd / top, width - BAR_GAP,
                CHART_H * day.cost_usd / top, f"{day.key}: ${day.cost_usd:.4f}, {day.tokens} tokens")
            for i, day in enumerate(days)]


@json_route
async def usage_json(request: Request) -> UsagePage:
    return await usage_snapshot(request.app.state.dashboard)
