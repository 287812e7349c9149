"""The dashboard's usage view and the running turn's cost: what the gateway's meter counted, drawn."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.gateway.usage import Usage
from hyperhive.web.server import DashboardServer
from tests.support.agents import add_agent
from tests.web.conftest import Operator


async def test_usage_view_shows_each_agent_the_hive_and_a_bar_per_day(hive: Hive, operator: Operator) -> None:
    for name in ("alice", "bob"):
        await (await add_agent(hive, name)).close()
    spend = hive.gateway.spend
    spend.turn_started("alice", 7)
    spend.record("alice", "claude-sonnet-4-5", Usage(input_tokens=1_000_000))  # $3
    spend.record("bob", "claude-haiku-4-5", Usage(output_tokens=200_000))  # $1
    await spend.settle()
    row = await hive.status_row("alice")
    assert row is not None and row.turn_cost_usd == 3.0  # the running turn's cost, on its row

    snap = (await operator.get("/usage.json")).json()
    cells = {a["agent"]: (a["today"]["cost_usd"], a["7d"]["cost_usd"], a["30d"]["tokens"]) for a in snap["agents"]}
    assert cells == {"alice": (3.0, 3.0, 1_000_000), "bob": (1.0, 1.0, 200_000)}
    assert snap["hive"]["30d"]["cost_usd"] == pytest.approx(4.0) and len(snap["days"]) == 1

    page = (await operator.get("/usage")).text
    assert '<a href="/usage" class="on">usage</a>' in page
    assert re.search(r'<tr data-agent="alice">.*?\$3\.0000', page, re.S)
    assert "$4.0000" in page  # the hive's total
    assert len(re.findall(r"<rect ", page)) == 1 and "<title>" in page


async def test_the_agent_page_shows_the_running_turns_cost_live(page: Any, server: DashboardServer,
                                                                hive: Hive) -> None:
    await (await add_agent(hive, "alice")).close()
    await page.goto(f"{server.url}/agents/alice")
    await expect(page.locator("#live")).to_have_class("live on")
    await expect(page.locator("#turn-cost")).to_have_count(0)  # between turns: nothing
    spend = hive.gateway.spend
    spend.turn_started("alice", 1)
    spend.record("alice", "claude-sonnet-4-5", Usage(input_tokens=1_000_000))
    await expect(page.locator("#turn-cost")).to_have_text("turn $3.0000")
    spend.record("alice", "claude-sonnet-4-5", Usage(output_tokens=100_000))  # $1.50 more, pushed live
    await expect(page.locator("#turn-cost")).to_have_text("turn $4.5000")
    await spend.settle()
