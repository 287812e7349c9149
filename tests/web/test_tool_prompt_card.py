"""A tool permission prompt on the dashboard (issue 21): a real agent whose `[tools] ask` names Bash waits on
a `tool_use` card on "your call"; approved in Chromium, the call runs and the turn carries on live on the
agent page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess
from tests.support.scripted_api import ScriptedApi, after_tool

from . import test_live_hive as live_hive
from .conftest import screenshot
from .test_live_hive import AGENT_TOML, base, host, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.claude]
api, live, board = live_hive.api, live_hive.live, live_hive.board  # its fixtures: a daemon, the API, a page

ASKING = AGENT_TOML + '[tools]\nask = ["Bash"]\n'
COMMAND = "echo made-x | tee x"


async def test_a_prompt_approved_on_the_card_runs_and_the_turn_goes_on(board: Any, live: HiveProcess,
                                                                       api: ScriptedApi) -> None:
    api.on("make x", reply.tool_use("Bash", {"command": COMMAND, "description": "make x"}))
    api.on(after_tool("Bash"), reply.text("x is made"))
    await host(live, "spawn", name="alice", config=ASKING.format(name="alice"))
    agent = await open_tab(board, "/agents/alice")
    await board.goto(base(board) + "/call")
    await host(live, "send", to="alice", body="please make x")

    card = board.locator("article[data-approval]", has_text="tool_use")
    await expect(card.locator(".tool-input")).to_contain_text(COMMAND, timeout=60_000)
    await expect(card).to_contain_text("rule Bash")
    await expect(card.locator("button", has_text="allow from now on")).to_be_visible()
    await screenshot(board, "call-tool-use")
    await card.locator("button", has_text="approve").first.click()
    await expect(card).to_have_count(0)

    items = agent.locator("#items")
    bash = items.locator(".tool", has=agent.locator(".tool-head", has_text=COMMAND))
    await expect(bash.locator(".tool-out .result")).to_contain_text("made-x")
    await expect(items.locator(".text", has_text="x is made")).to_be_visible()
    await expect(items.locator(".turn-end").last).to_contain_text("turn done")
    await screenshot(agent, "agent-after-tool-use")
    (row,) = [a for a in (await host(live, "pending", status="approved"))["approvals"] if a["kind"] == "tool_use"]
    assert row["details"]["input"]["command"] == COMMAND and row["details"]["rule"] == "Bash"
