"""The dashboard in headless Chromium against a real server: login, live updates, actions, composers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer

from ..support.hive import AgentConn
from . import transcript_lines as line
from .conftest import Spawn, screenshot

pytestmark = pytest.mark.browser


async def test_login_by_token_then_the_swarm_follows_status_changes(page: Any, server: DashboardServer,
                                                                      hive: Hive) -> None:
    await expect(page).to_have_url(f"{server.url}/swarm")  # the token left the address bar
    await expect(page.locator("#swarm-empty")).to_be_visible()
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    row = page.locator('tr[data-agent="bob"]')
    await expect(row.locator(".badge").first).to_have_text("offline")
    conn = AgentConn(hive.settings.agent_socket_dir("bob") / "mcp.sock")
    try:
        await asyncio.to_thread(conn.request, "hello", role="serve")
        await expect(row.locator(".badge").first).to_have_text("online")
        await asyncio.to_thread(conn.request, "set_status", text="reading the logs")
        await expect(row.locator(".status")).to_contain_text("reading the logs")
    finally:
        conn.close()
    await expect(row.locator(".badge").first).to_have_text("offline")


async def test_without_a_session_there_is_only_the_login_page_or_401(browser: Any, server: DashboardServer,
                                                                     hive: Hive) -> None:
    """Done when: login is required. A browser with no session is sent to the login page from every page,
    and every JSON route, the stream and every post answer 401; a wrong token gets the login page again."""
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    anon = await context.new_page()
    try:
        for path in ("/", "/swarm", "/call", "/flow", "/schedules", "/agents/bob", "/agents/bob/logs"):
            await anon.goto(server.url + path)
            await expect(anon).to_have_url(f"{server.url}/login")
            await expect(anon.locator("#snapshot")).to_have_count(0)  # no data on the login page
        await screenshot(anon, "login")
        statuses = await anon.evaluate("""async () => {
            const urls = ["/swarm.json", "/agents/bob.json", "/schedules.json", "/api/stream"];
            const gets = await Promise.all(urls.map((u) => fetch(u).then((r) => r.status)));
            const post = await fetch("/api/verb", {method: "POST", headers: {"content-type": "application/json"},
                body: JSON.stringify({cmd: "send", to: "bob", body: "sneaky"})});
            return [...gets, post.status];
        }""")
        assert statuses == [401, 401, 401, 401, 401]
        await anon.locator('input[name="token"]').fill("not-the-token")
        await anon.locator('button[type="submit"]').click()
        await expect(anon.locator(".error")).to_contain_text("not this hive's")
    finally:
        await context.close()
    assert await hive.store.unacked_messages("bob", 10) == []


async def test_a_post_without_the_csrf_token_is_refused(page: Any, hive: Hive) -> None:
    """Done when: a CSRF-less POST is refused, even with the session cookie the browser sends along."""
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    refused = await page.evaluate("""async () => {
        const post = (headers) => fetch("/api/verb", {method: "POST", credentials: "same-origin",
            headers: {"content-type": "application/json", ...headers},
            body: JSON.stringify({cmd: "send", to: "bob", body: "forged"})})
            .then(async (r) => [r.status, await r.json()]);
        return [await post({}), await post({"x-csrf-token": "0".repeat(43)})];
    }""")
    for status, body in refused:
        assert status == 403 and body["code"] == "not_allowed" and "CSRF" in body["error"]
    assert await hive.store.unacked_messages("bob", 10) == []
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    allowed = await page.evaluate("""async (token) => (await fetch("/api/verb", {method: "POST",
        headers: {"content-type": "application/json", "x-csrf-token": token},
        body: JSON.stringify({cmd: "send", to: "bob", body: "with the token"})})).status""", token)
    assert allowed == 200
    assert [m.body for m in await hive.store.unacked_messages("bob", 10)] == ["with the token"]


async def test_an_action_shows_a_toast_and_the_row_updates_from_the_live_event(page: Any, hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    row = page.locator('tr[data-agent="bob"]')
    await row.locator('button[data-action="pause"]').click()
    await expect(page.locator(".toast")).to_contain_text("pause: bob")
    await expect(row.locator('button[data-action="resume"]')).to_be_visible()
    assert hive.registry.require("bob").paused


async def test_a_destructive_action_asks_once_before_it_fires(page: Any, hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    row = page.locator('tr[data-agent="bob"]')
    await row.locator('button[data-action="unregister"]').click()
    dialog = page.locator("dialog#confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("unregister bob?")
    await dialog.locator('button[value="cancel"]').click()
    await expect(dialog).to_be_hidden()
    assert hive.registry.get("bob") is not None
    await row.locator('button[data-action="unregister"]').click()
    await dialog.locator('button[value="ok"]').click()
    await expect(row).to_have_count(0)
    assert hive.registry.get("bob") is None


async def test_flow_compose_with_completion_reaches_the_agents_inbox(page: Any, server: DashboardServer,
                                                                      hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    await page.goto(f"{server.url}/flow")
    box = page.locator("#compose-text")
    await box.press_sequentially("@bo")
    await expect(page.locator("#complete")).to_contain_text("@bob")
    await box.press("Tab")
    await box.press_sequentially("hello from the browser")
    await box.press("Enter")
    line_node = page.locator(".flow-line", has_text="hello from the browser")
    await expect(line_node).to_contain_text("operator → bob")
    stored = await hive.store.unacked_messages("bob", 10)
    assert [m.body for m in stored] == ["hello from the browser"]
    await hive.broker.ack("bob", [stored[0].id])
    await expect(line_node.locator(".chip")).to_have_text("acked")


async def test_unread_count_in_the_title_and_a_reply_from_the_inbox(page: Any, server: DashboardServer,
                                                                     hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    await page.goto(f"{server.url}/call")
    await expect(page).to_have_title("your call · hyperhive")
    sent = await hive.broker.send("bob", "operator", "may I deploy?")
    await expect(page).to_have_title("(1) your call · hyperhive")
    await expect(page.locator("#call-count")).to_have_text("1")
    item = page.locator(f'article[data-message="{sent[0].id}"]')
    await item.locator("button", has_text="reply").click()
    await item.locator("textarea").fill("yes, go")
    await item.locator("textarea").press("Enter")
    await expect(page.locator(".toast")).to_contain_text("sent to bob")
    reply = (await hive.store.unacked_messages("bob", 10))[0]
    assert reply.body == "yes, go" and reply.in_reply_to == sent[0].id
    await item.locator("button", has_text="mark read").click()
    await expect(page).to_have_title("your call · hyperhive")


async def _turn(hive: Hive, agent: str, n: int) -> None:
    await hive.events.append("turn.turn_start", agent, {"from": "operator", "body": f"task {n}", "id": n})
    await hive.events.append("turn.stream", agent, line.assistant(
        line.text(f"Working on task {n}."), line.tool_use(f"b{n}", "Bash", command=f"make test-{n}")))
    await hive.events.append("turn.stream", agent, line.tool_result(f"b{n}", "\n".join(f"ok {i}" for i in range(30))))
    send = line.tool_use(f"s{n}", "mcp__hyperhive__send", to="amy", body="done")
    await hive.events.append("turn.stream", agent, line.assistant(send))
    await hive.events.append("turn.turn_end", agent, {"ok": True, "kind": "ok"})


async def test_agent_transcript_renders_follows_live_and_counts_new_events(page: Any, server: DashboardServer,
                                                                            hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    for n in range(1, 9):
        await _turn(hive, "bob", n)
    await page.goto(f"{server.url}/agents/bob")
    items = page.locator("#items")
    await expect(items.locator(".tool-head").filter(has_text="Bash $ make test-8")).to_be_visible()
    await expect(items.locator(".tool-head", has_text="send → amy")).to_have_count(8)
    await expect(items.locator("details.result").first).not_to_have_attribute("open", "")  # long: collapsed
    await _turn(hive, "bob", 9)  # live, while the reader is at the bottom: it scrolls along
    await expect(items.locator(".tool-head", has_text="Bash $ make test-9")).to_be_in_viewport()
    await expect(page.locator("#new-pill")).to_be_hidden()
    await page.locator("#transcript").evaluate("pane => { pane.scrollTop = 0; }")
    await hive.events.append("turn.note", "bob", {"text": "first"})
    await hive.events.append("turn.note", "bob", {"text": "second"})
    pill = page.locator("#new-pill")
    await expect(pill).to_have_text("2 new ↓")
    await pill.click()
    await expect(pill).to_be_hidden()
    await expect(items.locator(".note", has_text="second")).to_be_in_viewport()


async def test_agent_transcript_backfills_older_events_on_scroll_up(page: Any, server: DashboardServer,
                                                                     hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    for n in range(1, 61):  # 300 events: more than one page
        await _turn(hive, "bob", n)
    await page.goto(f"{server.url}/agents/bob")
    items = page.locator("#items")
    await expect(items.locator(".turn-start", has_text="task 60")).to_have_count(1)
    await expect(items.locator(".turn-start", has_text="task 1")).to_have_count(0)
    await page.locator("#transcript").evaluate("pane => { pane.scrollTop = 0; }")
    await expect(items.locator(".turn-start .msg", has_text="task 1").first).to_be_attached()
    await expect(page.locator("#backfill")).to_have_text("start of the transcript")
    assert await items.locator(".turn-start").count() == 60


async def test_agent_composer_sends_and_runs_slash_commands(page: Any, server: DashboardServer, hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    await page.goto(f"{server.url}/agents/bob")
    box = page.locator("#compose-text")
    await box.fill("first line")
    await box.press("Shift+Enter")
    await box.press_sequentially("second line")
    await box.press("Enter")
    await expect(page.locator("#agent-inbox .mini")).to_contain_text("first line\nsecond line")
    await box.press_sequentially("/pau")
    await expect(page.locator("#complete")).to_contain_text("/pause")
    await box.press("Enter")  # takes the completion
    await box.press("Enter")  # sends it
    await expect(page.locator('#head button[data-control="resume"]')).to_be_visible()
    await box.fill("/model claude-haiku-4-5")
    await box.press("Enter")
    await expect(page.locator("#head")).to_contain_text("claude-haiku-4-5")
    await box.fill("/cancel")
    await box.press("Enter")
    await expect(page.locator(".toast.error")).to_contain_text("not connected")  # no harness holds bob
    hive.registry.set_activity("bob", "thinking", "on #1")
    await expect(page.locator('#head button[data-control="cancel turn"]')).to_be_visible()


async def test_event_to_browser_latency(page: Any, server: DashboardServer, hive: Hive) -> None:
    """Measured, and printed with -s: from appending a transcript event to its node in the page's DOM."""
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    await page.goto(f"{server.url}/agents/bob")
    await expect(page.locator("#live")).to_have_class("live on")
    await page.evaluate("""() => {
        window.seenAt = {};
        new MutationObserver((records) => {
            const now = Date.now();
            for (const r of records) for (const n of r.addedNodes) if (n.dataset) window.seenAt[n.dataset.seq] = now;
        }).observe(document.getElementById("items"), {childList: true});
    }""")
    samples = []
    for i in range(20):
        started = time.time() * 1000
        event = await hive.events.append("turn.note", "bob", {"text": f"ping {i}"})
        await page.wait_for_function(f"() => window.seenAt['{event.seq}']")
        samples.append(await page.evaluate(f"() => window.seenAt['{event.seq}']") - started)
    samples.sort()
    print(f"\nevent → browser DOM: p50 {samples[10]:.1f} ms, p95 {samples[18]:.1f} ms, max {samples[-1]:.1f} ms")
    assert samples[10] < 250


async def test_approvals_and_questions_arrive_live_and_are_answered(page: Any, server: DashboardServer,
                                                                     hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    await page.goto(f"{server.url}/call")
    await expect(page.locator("#approvals-pending")).to_contain_text("Nothing waits for you.")
    _, first = await hive.schedules.request("bob", ["bob"], "check the logs", time.time() + 3600, None, "log check")
    _, second = await hive.schedules.request("bob", ["bob"], "spam", time.time() + 3600, 60.0, "every minute")
    card = page.locator(f'article[data-approval="{first.id}"]')
    await expect(card).to_contain_text("log check")
    other = page.locator(f'article[data-approval="{second.id}"]')
    await other.locator("input.note").fill("too often")  # kept while other cards come and go
    await card.locator("button", has_text="approve").click()
    await expect(card).to_have_count(0)
    await expect(page.locator("#approvals-history")).to_contain_text("schedule #1 is active")  # the work ran
    await expect(other.locator("input.note")).to_have_value("too often")
    await other.locator("button", has_text="deny").click()
    await page.locator('dialog#confirm button[value="ok"]').click()
    await expect(other).to_have_count(0)
    await page.locator("#approvals-history summary").click()
    await expect(page.locator("#approvals-history")).to_contain_text("too often")
    assert (await hive.store.get_approval(second.id)).status == "denied"  # type: ignore[union-attr]

    question = await hive.questions.ask("bob", "deploy now?", ["yes", "later"], False, 600, None)
    ask = page.locator(f'article[data-question="{question.id}"]')
    await expect(ask).to_contain_text("deploy now?")
    await expect(ask.locator(".expires")).to_contain_text("expires in")
    await ask.locator("button", has_text="later").click()
    await expect(ask).to_have_count(0)
    answers = [m.body for m in await hive.store.unacked_messages("bob", 50)]
    assert any('"later"' in body for body in answers)


async def test_your_call_badge_counts_approvals_questions_and_unread(page: Any, server: DashboardServer,
                                                                      hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    badge = page.locator("#call-count")
    await expect(badge).to_be_hidden()
    _, approval = await hive.schedules.request("bob", ["bob"], "check", time.time() + 3600, None, "check")
    await expect(badge).to_have_text("1")
    await hive.questions.ask("bob", "ship it?", ["yes", "no"], False, 600, None)
    await expect(badge).to_have_text("2")
    await hive.broker.send("bob", "operator", "fyi")
    await expect(badge).to_have_text("3")
    await expect(badge).to_have_attribute("title", "1 approval · 1 question · 1 unread")
    await expect(page).to_have_title("(3) swarm · hyperhive")
    await call_verb(hive, {"cmd": "deny", "id": approval.id})
    await expect(badge).to_have_text("2")


async def test_schedules_view_creates_edits_pauses_fires_and_cancels(page: Any, server: DashboardServer,
                                                                       hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    await page.goto(f"{server.url}/schedules")
    form = page.locator("#create-form form")
    await form.locator('input[name="targets"]').fill("bob")
    await form.locator('textarea[name="body"]').fill("write the standup notes")
    await form.locator('select[name="unit"]').select_option("hours")
    await form.locator('input[name="description"]').fill("standup")
    await form.locator('button[type="submit"]').click()
    card = page.locator("article.schedule", has_text="standup")
    await expect(card).to_contain_text("every hour")
    await expect(card.locator(".badge")).to_have_text("active")
    await expect(card.locator(".expires")).to_contain_text("fires in")
    (schedule,) = await hive.store.list_schedules(["active"])

    await card.locator('button[data-do="edit"]').click()
    await card.locator('textarea[name="body"]').fill("write the standup notes, briefly")
    await card.locator('button[type="submit"]').click()
    await expect(card.locator(".body")).to_have_text("write the standup notes, briefly")
    await card.locator('button[data-do="pause"]').click()
    await expect(card.locator(".badge")).to_have_text("paused")
    await card.locator('button[data-do="resume"]').click()
    await expect(card.locator(".badge")).to_have_text("active")
    await card.locator('button[data-do="fire now"]').click()
    await expect(page.locator(".toast", has_text=f"#{schedule.id} fired")).to_be_visible()
    assert [m.body for m in await hive.store.unacked_messages("bob", 10)] == ["write the standup notes, briefly"]
    await expect(card).to_contain_text("fired once")

    other = await call_verb(hive, {"cmd": "create_schedule", "targets": ["bob"], "body": "made by hivectl",
                                   "first_fire_at": time.time() + 600, "description": "from elsewhere"})
    await expect(page.locator(f'article[data-schedule="{other.wire()["schedule"]["id"]}"]')).to_contain_text("once")
    await card.locator('button[data-do="cancel"]').click()
    await expect(page.locator("dialog#confirm")).to_contain_text(f"Cancel schedule #{schedule.id}?")
    await page.locator('dialog#confirm button[value="ok"]').click()
    await expect(page.locator("#schedules-open article.schedule", has_text="standup")).to_have_count(0)
    await page.locator("#schedules-closed summary").click()
    await expect(page.locator("#schedules-closed")).to_contain_text("cancelled")


async def test_destroyed_agents_are_revived_or_purged_from_the_swarm(page: Any, hive: Hive, spawn: Spawn) -> None:
    """A real managed agent (process runtime): destroy asks first, the row moves to the tombstones,
    revive brings it back running, purge asks and removes it."""
    await spawn("amy")
    row = page.locator('#swarm tr[data-agent="amy"]')
    await expect(row.locator(".badge").first).to_have_text("running")
    await row.locator('button[data-action="destroy"]').click()
    dialog = page.locator("dialog#confirm")
    await expect(dialog).to_contain_text("destroy amy? Its sandbox goes")
    await dialog.locator('button[value="ok"]').click()
    tomb = page.locator('#tombstones tr[data-agent="amy"]')
    await expect(tomb).to_be_visible()
    await expect(row).to_have_count(0)
    await expect(tomb.locator("button")).to_have_text(["revive", "purge"])
    await tomb.locator('button[data-action="revive"]').click()
    await expect(row.locator(".badge").first).to_have_text("running")
    await expect(page.locator("#tombstones")).to_be_hidden()
    await call_verb(hive, {"cmd": "destroy", "name": "amy"})
    await tomb.locator('button[data-action="purge"]').click()
    await expect(dialog).to_contain_text("deleted for good")
    await dialog.locator('button[value="ok"]').click()
    await expect(tomb).to_have_count(0)
    await expect(page.locator("#swarm-empty")).to_be_visible()
    assert hive.registry.get("amy") is None


async def test_agent_page_model_picker_and_loose_ends(page: Any, server: DashboardServer, hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    question = await hive.questions.ask("bob", "which branch?", ["main", "dev"], False, 600, None)
    await page.goto(f"{server.url}/agents/bob")
    ends = page.locator("#loose-ends")
    await expect(ends.locator(f'[data-question="{question.id}"]')).to_contain_text("which branch?")
    await hive.reminders.add("bob", "look at CI again", time.time() + 900)
    reminder = ends.locator("[data-reminder]")
    await expect(reminder).to_contain_text("look at CI again")
    await expect(reminder.locator(".expires")).to_contain_text("due in 1")
    await ends.locator(f'[data-question="{question.id}"] button[data-cancel]').click()
    await page.locator('dialog#confirm button[value="ok"]').click()
    await expect(ends.locator(f'[data-question="{question.id}"]')).to_have_count(0)

    suggested = await page.locator("#model-choices option").evaluate_all("options => options.map(o => o.value)")
    assert suggested == ["haiku", "opus", "sonnet"]  # a peer has no agent.toml: free text, with suggestions
    await page.locator("#model-input").fill("claude-haiku-4-5")
    await page.locator("#model-input").press("Enter")
    await expect(page.locator("#head")).to_contain_text("claude-haiku-4-5")
    assert hive.registry.require("bob").active_model == "claude-haiku-4-5"
