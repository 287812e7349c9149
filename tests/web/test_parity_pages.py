"""Issue #15's dashboard side in Chromium: purged mail shown dropped in the flow, the swarm tree, turn stats
with context size and cost on the agent page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer

from ..support.agents import add_agent

pytestmark = pytest.mark.browser


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
        row = (await call_verb(hive, {"cmd": "agent_status", "names": ["alice"]}))["agent_statuses"][0]
        assert row["unread"] == 0
        recent = (await call_verb(hive, {"cmd": "recent", "limit": 10}))["messages"]
        assert all(m["dropped_at"] for m in recent if m["recipient"] == "alice")
        await call_verb(hive, {"cmd": "send", "to": "alice", "body": "for the newcomer"})
        got = (await stranger.request("recv", wait_seconds=5))["messages"]
        assert [m["body"] for m in got] == ["for the newcomer"]
    finally:
        await stranger.close()
    await page.reload()  # the snapshot says so too
    await expect(page.locator(".flow-line", has_text="unread").locator(".chip")).to_have_text(["dropped", "dropped"])
