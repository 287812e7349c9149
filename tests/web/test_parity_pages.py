"""Issue #15's dashboard side in Chromium: purged mail shown dropped in the flow, the swarm tree, turn stats
with context size and cost on the agent page."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.agent.turn_stats import TurnStats
from hyperhive.core.hive import Hive
from hyperhive.daemon import make_hive
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer

from ..support.agents import add_agent

pytestmark = pytest.mark.browser
DAY = 24 * 3600.0


async def test_mail_for_a_purged_agent_is_dropped_in_the_flow_never_handed_to_a_namesake(
        page: Any, server: DashboardServer, hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    await alice.close()
    for body in ("first, unread", "second, unread"):
        await call_verb(hive, {"cmd": "send", "to": "alice", "body": body})
    await page.goto(f"{server.url}/flow")
    lines = page.locator(".flow-line", has_text="unread")
    await expect(lines).to_have_count(2)
    await expect(lines.locator(".chip")).to_have_text(["sent", "sent"])
    await call_verb(hive, {"cmd": "destroy", "name": "alice", "purge": True})
    await expect(lines.locator(".chip")).to_have_text(["dropped", "dropped"])  # live, from the event
    stranger = await add_agent(hive, "alice")  # a new agent that happens to take the name
    try:
        assert (await stranger.request("recv", wait_seconds=0.2))["messages"] == []
        row = (await call_verb(hive, {"cmd": "agent_status", "names": ["alice"]})).wire()["agent_statuses"][0]
        assert row["unread"] == 0
        recent = (await call_verb(hive, {"cmd": "recent", "limit": 10})).wire()["messages"]
        assert all(m["dropped_at"] for m in recent if m["recipient"] == "alice")
        await call_verb(hive, {"cmd": "send", "to": "alice", "body": "for the newcomer"})
        got = (await stranger.request("recv", wait_seconds=5))["messages"]
        assert [m["body"] for m in got] == ["for the newcomer"]
    finally:
        await stranger.close()
    await page.reload()  # the snapshot says so too
    await expect(page.locator(".flow-line", has_text="unread").locator(".chip")).to_have_text(["dropped", "dropped"])


def _turn(started_at: float, cost: float, prompt: int, model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    """A turn_stats event as the harness reports it (agent/loop.py: the driver's TurnStats and the wake)."""
    stats = TurnStats(model=model, duration_ms=1200, input_tokens=prompt, output_tokens=300, cost_usd=cost,
                      num_turns=1, tool_calls=1, tool_breakdown={"Bash": 1}, result_kind="success").model_dump()
    return {"kind": "turn_stats", "payload": stats | {"message_id": 1, "wake_from": "operator",
                                                      "started_at": started_at}}


async def test_turn_stats_outlive_the_transcript_and_show_context_and_cost(
        page: Any, server: DashboardServer, hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    now = time.time()
    try:
        await alice.request("report", events=[_turn(now - 20 * DAY, 1.0, 10_000), _turn(now - 3 * DAY, 0.5, 20_000),
                                              _turn(now - 60, 0.25, 50_000)])
    finally:
        await alice.close()
    await hive.store.prune_events("alice", "turn.", 0)  # the transcript's bound took them all
    row = (await call_verb(hive, {"cmd": "agent_status", "names": ["alice"]})).wire()["agent_statuses"][0]
    assert (row["context_tokens"], row["context_window"], row["cost_usd_24h"]) == (50_000, 200_000, 0.25)
    await page.goto(f"{server.url}/agents/alice")
    await expect(page.locator("#context")).to_have_text("ctx 50.0k / 200.0k (25 %) · $0.250 24h")
    turns = page.locator("#stats tr", has_text="turns").first
    await expect(turns.locator("td")).to_have_text(["turns", "1", "2", "3"])  # 24 h, 7 d, 30 d
    cost = page.locator("#stats tr", has_text="cost")
    await expect(cost.locator("td")).to_have_text(["cost", "$0.250", "$0.750", "$1.75"])
    await hive.stop()  # kept across a daemon restart: from the table, not from memory
    async with make_hive(hive.settings) as again:
        row = (await again.status_rows(["alice"]))[0]
        assert (row.context_tokens, row.cost_usd_24h) == (50_000, 0.25)
        assert [t.cost_usd for t in await again.store.turn_stats("alice", 0)] == [1.0, 0.5, 0.25]


async def test_the_swarm_is_a_tree_that_follows_set_parent_live(page: Any, server: DashboardServer,
                                                                 hive: Hive) -> None:
    for name in ("alice", "bob", "carol"):
        await call_verb(hive, {"cmd": "register_peer", "name": name})
    await page.goto(f"{server.url}/swarm")
    rows = page.locator("#swarm tbody tr")
    await expect(rows).to_have_count(3)
    await call_verb(hive, {"cmd": "set_parent", "name": "alice", "parent": "carol"})
    await call_verb(hive, {"cmd": "set_parent", "name": "bob", "parent": "alice"})
    # carol at the top, alice under it, bob under alice: in tree order, each child marked
    names = page.locator("#swarm tbody tr td.name a")
    await expect(names).to_have_text(["carol", "alice", "bob"])
    await expect(page.locator('tr[data-agent="bob"] td.name .tree')).to_have_count(1)
    await expect(page.locator('tr[data-agent="carol"] td.name .tree')).to_have_count(0)
    await call_verb(hive, {"cmd": "set_parent", "name": "alice"})  # back to the top
    await expect(names).to_have_text(["alice", "bob", "carol"])
