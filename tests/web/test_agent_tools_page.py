"""The agent page shows agent.toml's `[tools]` rules (issue 15, item 7), in headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer

from .conftest import Spawn, screenshot

pytestmark = pytest.mark.browser

CONFIG = '''name = "tooly"
allowed_recipients = []
[tools]
allow = ["Read", "Grep", "Bash(git *)"]
deny = ["Bash(git push:*)", "WebFetch"]
'''


async def test_the_agent_page_lists_allowed_and_denied_tools(page: Any, server: DashboardServer, hive: Hive,
                                                            spawn: Spawn) -> None:
    await call_verb(hive, {"cmd": "spawn", "name": "tooly", "config": CONFIG})  # `spawn` stops it at the end
    await page.goto(f"{server.url}/agents/tooly")
    tools = page.locator("#tools")
    await expect(tools.locator('[data-rules="allow"] code')).to_have_text(["Read", "Grep", "Bash(git *)"])
    await expect(tools.locator('[data-rules="deny"] code.deny')).to_have_text(["Bash(git push:*)", "WebFetch"])
    await screenshot(page, "agent-tools")
