"""The dashboard of a real hive-c0re (a subprocess) with a real agent: `hive-ag3nt run` on the process
runtime, driving the real Claude Code CLI against the scripted Messages API, watched and steered from
headless Chromium. Each test writes screenshots of its views to test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.protocol import rfc3339
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess
from tests.support.scripted_api import ScriptedApi, after_tool, hive_notice

from .conftest import logged_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.claude]

AGENT_TOML = """name = "{name}"
description = "{name}, a test agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = []
[restart]
delay_seconds = 0.5
stop_timeout_seconds = 10
"""
SEND = "mcp__hyperhive__send"
WAIT_MS = 20_000  # a daemon, an agent, the CLI and Chromium share two cores with whatever else runs
# The daemon's dashboard goes away on kill -9: the browser logs its failed reconnects.
GONE = ("net::ERR_CONNECTION_REFUSED", "net::ERR_INCOMPLETE_CHUNKED_ENCODING", "net::ERR_EMPTY_RESPONSE")


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as scripted:
        yield scripted


@pytest.fixture
def live(short_tmp: Path, claude_bin: str, api: ScriptedApi) -> Iterator[HiveProcess]:
    env = {"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0", **api.env()}
    hive = HiveProcess(short_tmp, env=env)
    hive.start()
    try:
        yield hive
    finally:
        stop_agents(hive)
        hive.stop()


def stop_agents(hive: HiveProcess) -> None:
    """Agents outlive their daemon on purpose (it adopts them after a restart): a test ends them itself."""
    with contextlib.suppress(Exception):
        if hive.proc is None:  # killed by the test, which failed before starting it again
            hive.start()
        hive.host.request("kill", all=True)


async def host(hive: HiveProcess, cmd: str, **fields: Any) -> dict[str, Any]:
    """A host verb, off the event loop the browser runs on."""
    result: dict[str, Any] = await asyncio.to_thread(hive.host.request, cmd, **fields)
    return result


async def spawn(hive: HiveProcess, name: str) -> None:
    await host(hive, "spawn", name=name, config=AGENT_TOML.format(name=name))


@pytest.fixture
async def board(browser: Any, live: HiveProcess) -> AsyncIterator[Any]:
    """A page logged in to the daemon's dashboard with the URL `hivectl dashboard-url` prints."""
    url = (await host(live, "dashboard_url"))["url"]
    async with logged_in(browser, url, tolerate=GONE) as page:
        page.set_default_timeout(WAIT_MS)
        yield page


def base(page: Any) -> str:
    scheme, _, rest = page.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def open_tab(page: Any, path: str) -> Any:
    """Another tab of the same session (its cookie), e.g. the swarm beside your call."""
    other = await page.context.new_page()
    other.set_default_timeout(WAIT_MS)
    await other.goto(base(page) + path)
    await expect(other.locator("#live")).to_have_class("live on")
    return other


# --- a real turn ----------------------------------------------------------------------------------
async def test_a_message_from_the_flow_view_runs_a_real_turn_shown_live(board: Any, live: HiveProcess,
                                                                        api: ScriptedApi) -> None:
    """Done when: sending from the flow view reaches the agent and the row appears live; the agent page
    shows a real turn with its tool calls, their results nested under them, and the reply it sent."""
    api.on("check the disk", reply.tool_use("Bash", {"command": "echo disk-ok"}, text="Let me look."))
    api.on(after_tool("Bash"), reply.tool_use(SEND, {"to": "operator", "body": "the disk is fine"}))
    api.on(after_tool(SEND), reply.text("Checked: the disk is fine."))
    await spawn(live, "alice")
    agent = await open_tab(board, "/agents/alice")
    await board.goto(base(board) + "/flow")
    await expect(board.locator("#live")).to_have_class("live on")

    box = board.locator("#compose-text")
    await box.press_sequentially("@ali")
    await box.press("Tab")
    await box.press_sequentially("please check the disk")
    await box.press("Enter")
    sent = board.locator(".flow-line", has_text="please check the disk")
    await expect(sent).to_contain_text("operator → alice")
    answer = board.locator(".flow-line", has_text="the disk is fine")
    await expect(answer).to_contain_text("alice → operator", timeout=60_000)
    await expect(sent.locator(".chip")).to_have_text("acked", timeout=30_000)  # acked when the turn ended

    items = agent.locator("#items")
    await expect(items.locator(".turn-start")).to_contain_text("please check the disk")
    bash = items.locator(".tool", has=agent.locator(".tool-head", has_text="Bash $ echo disk-ok"))
    await expect(bash.locator(".tool-out .result")).to_contain_text("disk-ok")
    await expect(items.locator(".tool-head", has_text="send → operator")).to_be_visible()
    await expect(items.locator(".text", has_text="Checked: the disk is fine.")).to_be_visible()
    await expect(items.locator(".turn-end").last).to_contain_text("turn done")
    await expect(agent.locator("#stats")).to_contain_text("Bash")  # turn stats: the top tools
    await screenshot(board, "flow")
    await screenshot(agent, "agent")
    swarm = await open_tab(board, "/swarm")
    await expect(swarm.locator('tr[data-agent="alice"] .ok-mark')).to_be_visible()
    await screenshot(swarm, "swarm")
    await agent.locator('#head a[href="/agents/alice/logs"]').click()
    await expect(agent.locator("#log")).to_contain_text("alice")  # the harness's own log, from its file
    await screenshot(agent, "logs")


async def test_cancel_interrupts_a_running_turn(board: Any, live: HiveProcess, api: ScriptedApi) -> None:
    """Done when: `/cancel` in the agent's composer interrupts the turn that is running."""
    release = threading.Event()
    api.on("think for a long time", reply.hang(release))
    await spawn(live, "alice")
    await board.goto(base(board) + "/agents/alice")
    await host(live, "send", to="alice", body="think for a long time")
    await expect(board.locator("#activity")).to_have_text("thinking", timeout=30_000)
    await expect(board.locator('#head button[data-control="cancel turn"]')).to_be_visible()
    await asyncio.to_thread(api.wait_for_request, timeout=30)  # the CLI is waiting on the model
    await screenshot(board, "agent-thinking")
    started = time.monotonic()
    await board.locator("#compose-text").fill("/cancel")
    await board.locator("#compose-text").press("Enter")
    await expect(board.locator(".turn-end").last).to_contain_text("turn interrupted", timeout=15_000)
    assert time.monotonic() - started < 10
    await expect(board.locator("#activity")).not_to_have_text("thinking")
    release.set()


# --- approvals and questions ------------------------------------------------------------------------
async def test_an_approval_approved_in_the_browser_updates_row_and_history_live(board: Any, live: HiveProcess,
                                                                                 api: ScriptedApi) -> None:
    """Done when: an agent's request (a scheduled prompt) approved in the browser updates the agent's row
    and the approval history without a reload."""
    first = rfc3339(time.time() + 3600)
    api.on("set up the daily check", reply.tool_use("mcp__hyperhive__request_schedule_prompt", {
        "targets": ["alice"], "body": "run the daily check", "first_fire_at": first, "interval_seconds": 86400,
        "description": "daily check"}))
    api.on(after_tool("mcp__hyperhive__request_schedule_prompt"), reply.text("Requested; waiting for approval."))
    api.on(hive_notice, reply.text("noted"))  # the approval_resolved mail wakes alice for one more turn
    await spawn(live, "alice")
    swarm = await open_tab(board, "/swarm")
    schedules = await open_tab(board, "/schedules")
    await board.goto(base(board) + "/call")
    await host(live, "send", to="alice", body="please set up the daily check")

    card = board.locator("article[data-approval]", has_text="daily check")
    await expect(card).to_contain_text("schedule_prompt", timeout=60_000)
    await expect(card).to_contain_text("run the daily check")
    appr = swarm.locator('tr[data-agent="alice"] td.num').nth(1)
    await expect(appr).to_have_text("1")
    await expect(swarm.locator("#call-count")).to_have_text("1")
    await expect(schedules.locator("article.schedule .badge")).to_have_text("awaiting approval")
    await screenshot(board, "call")
    reloads = await board.evaluate("performance.getEntriesByType('navigation').length")

    await card.locator("button", has_text="approve").click()
    await expect(card).to_have_count(0)
    await board.locator("#approvals-history summary").click()
    await expect(board.locator("#approvals-history")).to_contain_text("approved")
    await expect(board.locator("#approvals-history")).to_contain_text("is active")  # the approved work ran
    await expect(appr).to_have_text("0")
    await expect(swarm.locator("#call-count")).to_be_hidden()
    await expect(schedules.locator("article.schedule .badge")).to_have_text("active")
    await screenshot(schedules, "schedules")
    assert await board.evaluate("performance.getEntriesByType('navigation').length") == reloads
    (schedule,) = (await host(live, "schedules"))["schedules"]
    assert schedule["status"] == "active" and schedule["created_by"] == "alice"


async def test_a_question_answered_on_the_dashboard_wakes_the_askers_next_turn(board: Any, live: HiveProcess,
                                                                             api: ScriptedApi) -> None:
    """Issue 8: the agent asks the operator (with options) through its `ask` tool; the operator answers on
    the dashboard; the `question_answered` event wakes the asker, whose next turn reads the answer."""
    api.on("ready to deploy", reply.tool_use("mcp__hyperhive__ask", {
        "question": "Deploy build 42 to production now?", "options": ["deploy now", "wait for Monday"],
        "ttl_seconds": 1800}))
    api.on(after_tool("mcp__hyperhive__ask"), reply.text("Asked the operator; waiting."))
    api.on("wait for Monday", reply.text("Understood: waiting for Monday."))
    await spawn(live, "alice")
    await board.goto(base(board) + "/call")
    await host(live, "send", to="alice", body="build 42 is ready to deploy")

    card = board.locator("article[data-question]", has_text="Deploy build 42")
    await expect(card).to_contain_text("alice asks", timeout=60_000)
    await expect(card.locator(".expires")).to_have_text(re.compile(r"expires in (29|30)m"))  # the countdown
    await expect(board.locator("#call-count")).to_have_text("1")
    await screenshot(board, "call-question")
    asked = len(api.message_requests)
    await card.locator("button", has_text="wait for Monday").click()
    await expect(card).to_have_count(0)
    await expect(board.locator("#call-count")).to_be_hidden()

    woken = await asyncio.to_thread(api.wait_for_request, lambda r: r.path == "/v1/messages" and (
        "wait for Monday" in r.last_user_text), 60, after=asked)
    assert "question_answered" in woken.last_user_text
    (question,) = (await host(live, "questions", status="answered"))["questions"]
    assert (question["asker"], question["answer"]) == ("alice", "wait for Monday")


# --- restart --------------------------------------------------------------------------------------
def _port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


async def test_the_page_reconnects_after_the_daemon_restarts(board: Any, live: HiveProcess,
                                                              api: ScriptedApi) -> None:
    """Done when: a reconnect after the server restarts resumes the stream. hive-c0re is killed with
    SIGKILL and started again on the same address; the open pages reconnect (their cursor is from the old
    daemon, so they reload their snapshot) and then show what happens after the restart."""
    api.on("after the restart", reply.tool_use(SEND, {"to": "operator", "body": "still here after the restart"}))
    api.on(after_tool(SEND), reply.text("ok"))
    await spawn(live, "alice")
    port = _port((await host(live, "dashboard_url"))["url"])
    live.env["HYPERHIVE_DASHBOARD"] = f"127.0.0.1:{port}"  # the same address again after the restart
    swarm = await open_tab(board, "/swarm")
    await board.goto(base(board) + "/flow")
    await expect(board.locator("#live")).to_have_class("live on")
    epoch = await board.evaluate("window.hiveLive.cursor.epoch")

    await asyncio.to_thread(live.kill9)
    await expect(board.locator("#live")).not_to_have_class("live on")
    await asyncio.to_thread(live.start)
    await expect(board.locator("#live")).to_have_class("live on", timeout=20_000)
    await expect(swarm.locator("#live")).to_have_class("live on", timeout=20_000)

    await host(live, "send", to="alice", body="are you there after the restart?")
    await expect(board.locator(".flow-line", has_text="are you there")).to_contain_text("operator → alice")
    await expect(board.locator(".flow-line", has_text="still here after the restart")).to_contain_text(
        "alice → operator", timeout=60_000)
    await expect(swarm.locator('tr[data-agent="alice"] .badge').first).to_have_text("running")
    assert await board.evaluate("window.hiveLive.cursor.epoch") != epoch  # the new daemon's stream
