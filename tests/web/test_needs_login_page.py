"""An agent that needs a login is shown prominently, with the command to run (issue 15, item 12)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.web.server import DashboardServer
from tests.support.agents import add_agent

from .conftest import screenshot

pytestmark = pytest.mark.browser


async def test_needs_login_shows_the_command_on_the_swarm_and_the_agent_page(page: Any, server: DashboardServer,
                                                                           hive: Hive) -> None:
    await add_agent(hive, "alice")
    await expect(page.locator('#swarm tr[data-agent="alice"]')).to_have_count(1)
    alert = page.locator("#needs-login")
    await expect(alert).to_be_hidden()
    await hive.registry.update("alice", needs_login=True)  # as the harness reports it
    await expect(alert.locator('[data-agent="alice"]')).to_contain_text("hivectl login alice")
    await screenshot(page, "swarm-needs-login")
    await page.goto(f"{server.url}/agents/alice")
    await expect(page.locator("#login-hint")).to_contain_text("hivectl login alice")
    await hive.registry.update("alice", needs_login=False)
    await expect(page.locator("#login-hint")).to_have_count(0)
