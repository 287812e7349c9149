"""JSON routes: one envelope everywhere, host verbs by cmd, actions, snapshots and what feeds the stream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from starlette.applications import Starlette

from hyperhive.client import stream
from hyperhive.core.hive import Hive
from hyperhive.web.dashboard import Dashboard
from hyperhive.web.dispatch import ACTIONS, available_actions
from hyperhive.web.feed import Cursor, Update
from hyperhive.web.sources import STATUS_REST_SECONDS
from tests.support.agents import harness_pids

from . import transcript_lines as line
from .conftest import Operator, Spawn

JSON_ROUTES = ["/swarm.json", "/call.json", "/flow.json", "/schedules.json", "/agents/bob.json",
               "/agents/bob/transcript.json", "/agents/bob/stats.json", "/agents/bob/logs.json"]


async def _peer(operator: Operator, name: str = "bob") -> None:
    assert (await operator.verb(cmd="register_peer", name=name))["ok"]


@pytest.mark.parametrize("url", JSON_ROUTES)
async def test_every_json_route_has_the_success_envelope(operator: Operator, url: str) -> None:
    await _peer(operator)
    body = (await operator.get(url)).json()
    assert body["version"] == 1 and body["ok"] is True and "error" not in body


@pytest.mark.parametrize(("url", "status", "code"), [
    ("/agents/ghost.json", 404, "not_found"), ("/agents/ghost/transcript.json", 404, "not_found"),
    ("/agents/Bad!/logs.json", 404, "not_found"), ("/agents/bob/transcript.json?before=x", 400, "bad_request"),
])
async def test_every_json_error_has_the_error_envelope(operator: Operator, url: str, status: int, code: str) -> None:
    await _peer(operator)
    response = await operator.get(url)
    assert response.status_code == status
    assert response.json() == {"version": 1, "ok": False, "error": response.json()["error"], "code": code}


async def test_verbs_are_dispatched_by_cmd(operator: Operator, hive: Hive) -> None:
    await _peer(operator)
    paused = await operator.verb(cmd="set_paused", name="bob", paused=True)
    assert paused["agent_statuses"][0]["paused"] is True
    sent = await operator.verb(cmd="send", to="bob", body="hello from the dashboard")
    assert sent["recipients"] == ["bob"]
    assert (await hive.store.unacked_messages("bob", 10))[0].body == "hello from the dashboard"
    assert (await operator.verb(cmd="nope"))["code"] == "unknown_cmd"
    assert (await operator.verb(cmd="send", to="bob"))["code"] == "bad_request"
    assert (await operator.verb(cmd="set_paused", name="Bob!", paused=True))["code"] == "invalid_name"
    assert (await operator.verb(cmd="subscribe_agent_status"))["code"] == "unknown_cmd"
    raw = await operator.client.post("/api/verb", content=b"[1]", headers={"x-csrf-token": operator.csrf})
    assert raw.status_code == 400 and raw.json()["code"] == "bad_json"


async def test_every_action_does_what_it_names(operator: Operator, spawn: Spawn, hive: Hive) -> None:
    """Each dashboard action, posted as the page does, on a real managed agent (process runtime) or a peer,
    with its effect checked; an action added without a line here fails the last assertion."""
    await _peer(operator)
    await spawn("amy")
    done: set[str] = set()

    async def act(action: str, name: str = "amy") -> dict[str, Any]:
        response = await operator.post("/api/action", {"action": action, "name": name})
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and body["ok"], (action, body)
        done.add(action)
        return body

    def state(body: dict[str, Any]) -> str:
        return str(body["agent_statuses"][0]["state"])

    assert (await act("pause", "bob"))["agent_statuses"][0]["paused"] is True
    assert (await act("resume", "bob"))["agent_statuses"][0]["paused"] is False
    controls = stream(hive.settings.agent_socket_dir("bob") / "mcp.sock", "control_stream")
    assert (await anext(controls))["ok"] is True
    await act("interrupt", "bob")
    assert (await asyncio.wait_for(anext(controls), 10))["control"] == "interrupt"  # reached its harness
    await controls.aclose()

    first = harness_pids("amy", hive.settings.state_dir)
    assert state(await act("stop")) == "stopped" and harness_pids("amy", hive.settings.state_dir) == []
    assert state(await act("start")) == "running"
    for action in ("restart", "rebuild"):
        before = harness_pids("amy", hive.settings.state_dir)
        assert state(await act(action)) == "running"
        assert harness_pids("amy", hive.settings.state_dir) not in ([], before), action  # a new harness
    assert first and state(await act("kill")) == "stopped" and harness_pids("amy", hive.settings.state_dir) == []
    await act("destroy")
    assert (await operator.get("/swarm.json")).json()["agents"][0]["state"] == "destroyed"
    assert state(await act("revive")) == "running"
    await act("destroy")
    assert (await act("purge"))["agents"] == ["bob"]
    assert (await act("unregister", "bob"))["agents"] == []

    wrong_kind = await operator.post("/api/action", {"action": "start", "name": "bob"})
    assert wrong_kind.status_code == 404 and wrong_kind.json()["code"] == "not_found"  # bob is gone now
    ghost = await operator.post("/api/action", {"action": "revive", "name": "ghost"})
    assert ghost.status_code == 404 and ghost.json()["code"] == "not_found"
    offered = {a.name: a for a in available_actions()}
    assert (offered["purge"].confirm or "").startswith("purge {name}?") and offered["start"].confirm is None
    assert done == set(ACTIONS) == set(offered), f"not tried here: {sorted(set(ACTIONS) - done)}"


async def test_an_action_on_the_wrong_kind_of_agent_is_refused(operator: Operator) -> None:
    await _peer(operator)
    wrong_kind = await operator.post("/api/action", {"action": "start", "name": "bob"})
    assert wrong_kind.status_code == 403 and wrong_kind.json()["code"] == "not_allowed"


async def test_snapshots_carry_a_cursor_and_the_page_data(operator: Operator, hive: Hive) -> None:
    await _peer(operator)
    await operator.verb(cmd="send", to="bob", body="one")
    await hive.broker.send("bob", "operator", "a reply")
    swarm = (await operator.get("/swarm.json")).json()
    assert swarm["cursor"].count(".") == 1 and swarm["agents"][0]["name"] == "bob"
    assert swarm["agents"][0]["unread"] == 1 and swarm["call"] == {"unread": 1, "approvals": 0, "questions": 0}
    call = (await operator.get("/call.json")).json()
    assert call["inbox"][0]["body"] == "a reply"
    assert call["approvals"] == [] and call["questions"] == []
    flow = (await operator.get("/flow.json")).json()
    assert [m["body"] for m in flow["messages"]] == ["a reply", "one"] and flow["agents"] == ["bob"]


async def test_agent_snapshot_renders_the_transcript_and_pages_backwards(operator: Operator, hive: Hive) -> None:
    await _peer(operator)
    await hive.events.append("turn.turn_start", "bob", {"from": "operator", "body": "go", "id": 1})
    for i in range(250):
        call = line.tool_use(f"t{i}", "Bash", command=f"echo {i}")
        await hive.events.append("turn.stream", "bob", line.assistant(call))
    await hive.events.append("turn.turn_stats", "bob", {"duration_ms": 900, "cost_usd": 0.02})
    snap = (await operator.get("/agents/bob.json")).json()
    events = snap["transcript"]["events"]
    assert len(events) == 200 and snap["transcript"]["has_more"]
    assert events[-1]["kind"] == "turn.turn_stats" and events[-2]["items"][0]["label"] == "Bash $ echo 249"
    assert "payload" not in events[-2]  # the items carry what the page shows
    assert snap["stats"]["24h"]["turns"] == 1
    older = (await operator.get(f"/agents/bob/transcript.json?before={events[0]['seq']}")).json()
    assert len(older["events"]) == 52 and not older["has_more"]
    assert older["events"][0]["items"][0]["type"] == "turn_start"


async def test_a_snapshot_sends_each_item_as_the_feed_does_key_for_key(app: Starlette, hive: Hive,
                                                                       operator: Operator) -> None:
    """Snapshots validate and dump the typed items (pydantic); the feed encodes the very dicts: a key a
    type forgot, or one its dump adds (a null `bad`), would make a backfilled transcript differ from a live one."""
    board: Dashboard = app.state.dashboard
    await _peer(operator)
    start = board.feed.cursor()
    todo = line.tool_use("t2", "TodoWrite", todos=[{"content": "a", "status": "pending", "activeForm": "A"}])
    for kind, payload in [
        ("turn.turn_start", {"from": "operator", "body": "go", "unread": 1, "id": 1}),
        ("turn.stream", line.init()),
        ("turn.stream", line.assistant(line.text("Looking."), {"type": "thinking", "thinking": "hm"}, todo)),
        ("turn.stream", line.tool_result("t2", "x\n" * 50, is_error=True)),
        ("turn.stream", line.result()), ("turn.note", {"text": "a note"}), ("turn.harness", {"activity": "idle"}),
        ("turn.turn_end", {"ok": True, "kind": "success"}), ("turn.turn_stats", {"duration_ms": 900}),
        ("container_crash", {"exit": "status 1"}), ("something_new", {"a": [1]}),
    ]:
        await hive.events.append(kind, "bob", payload)
    live = [json.loads(u.encoded) for u in board.feed.since(start) if u.topic in ("turn", "container", "something")]
    backfill = (await operator.get("/agents/bob/transcript.json")).json()["events"]
    assert [e["items"] for e in backfill] == [e["items"] for e in live]
    assert [list(i) for e in backfill for i in e["items"]] == [list(i) for e in live for i in e["items"]]
    assert {i["type"] for e in backfill for i in e["items"]} == {
        "turn_start", "init", "text", "thinking", "tool", "result", "final", "note", "harness", "turn_end", "stats",
        "event"}


async def test_a_flood_of_mail_recomputes_status_rows_a_few_times_a_second(app: Starlette, hive: Hive,
                                                                           operator: Operator) -> None:
    board: Dashboard = app.state.dashboard
    await _peer(operator)
    start, began = board.feed.cursor(), time.monotonic()
    for i in range(200):  # each send changes bob's unread count
        await hive.broker.send("operator", "bob", f"m{i}")
    while not any(u.topic == "status" and u.data["row"]["unread"] == 200 for u in board.feed.since(start)):
        await board.feed.wait(board.feed.cursor())
    rows = [u for u in board.feed.since(start) if u.topic == "status"]
    # One batch, then a rest of STATUS_REST_SECONDS before the next: not one row per send.
    assert len(rows) <= (time.monotonic() - began) / STATUS_REST_SECONDS + 2, len(rows)


async def test_sources_publish_status_messages_acks_and_events(app: Starlette, hive: Hive, operator: Operator) -> None:
    board: Dashboard = app.state.dashboard
    start = board.feed.cursor()
    await _peer(operator)
    sent = await operator.verb(cmd="send", to="bob", body="hi")
    await hive.broker.ack("bob", [sent["id"]])
    await hive.broker.send("bob", "operator", "back")
    await hive.events.append("turn.turn_start", "bob", {"from": "operator", "body": "hi", "id": sent["id"]})
    await hive.events.append("approval_requested", "bob", {"id": 1})

    async def topics() -> list[Update]:
        while True:
            updates = board.feed.since(start)
            if {"status", "message", "ack", "operator", "turn", "delivered", "lastturn", "approval"} <= {
                    u.topic for u in updates}:
                return updates
            await board.feed.wait(board.feed.cursor())

    updates = await asyncio.wait_for(topics(), 5)
    by_topic = {u.topic: u for u in updates}
    assert by_topic["message"].agents == ("operator", "bob") or by_topic["message"].agents == ("bob", "operator")
    assert by_topic["ack"].data["ids"] == [sent["id"]]
    assert by_topic["delivered"].data["ids"] == [sent["id"]]
    assert by_topic["turn"].data["items"][0]["type"] == "turn_start"
    assert [u.data for u in updates if u.topic == "operator"][-1]["unread"] == 1
    seqs = [u.seq for u in updates]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def _next(board: Dashboard, topic: str, after: Cursor) -> tuple[Update, Cursor]:
    """The first update on `topic` after the cursor (pushed: the feed wakes its waiters)."""
    while True:
        updates = await asyncio.wait_for(board.feed.wait(after), 5)
        after = Cursor(board.feed.epoch, updates[-1].seq)
        found = [u for u in updates if u.topic == topic]
        if found:
            return found[-1], after


async def test_your_call_counts_approvals_questions_and_mail(app: Starlette, hive: Hive, operator: Operator) -> None:
    """The badge on every page: pending approvals + open questions to the operator + unread mail, live."""
    board: Dashboard = app.state.dashboard
    await _peer(operator)
    cursor = board.feed.cursor()

    async def counts_become(expected: dict[str, int]) -> None:
        nonlocal cursor
        update, cursor = await _next(board, "operator", cursor)
        while update.data != expected:  # each change publishes; a later one may already show the next
            update, cursor = await _next(board, "operator", cursor)

    _, approval = await hive.schedules.request("bob", ["bob"], "check", time.time() + 3600, None, "")
    await counts_become({"unread": 0, "approvals": 1, "questions": 0})
    question = await hive.questions.ask("bob", "go?", ["yes"], False, 600, None)
    await hive.questions.ask("bob", "amy?", [], False, 600, None)
    await counts_become({"unread": 0, "approvals": 1, "questions": 2})
    await hive.broker.send("bob", "operator", "hello")
    await counts_become({"unread": 1, "approvals": 1, "questions": 2})
    await operator.verb(cmd="approve", id=approval.id)
    await operator.verb(cmd="answer", id=question.id, answer="yes")
    await counts_become({"unread": 1, "approvals": 0, "questions": 1})
    assert (await operator.get("/flow.json")).json()["call"] == {"unread": 1, "approvals": 0, "questions": 1}


async def test_schedules_snapshot_and_their_live_updates(app: Starlette, operator: Operator) -> None:
    board: Dashboard = app.state.dashboard
    await _peer(operator)
    cursor = board.feed.cursor()
    made = await operator.verb(cmd="create_schedule", targets=["bob"], body="standup", first_fire_at=time.time() + 60,
                               interval_seconds=3600, description="hourly")
    update, cursor = await _next(board, "schedule", cursor)
    assert update.data["payload"]["id"] == made["schedule"]["id"] and update.data["payload"]["status"] == "active"
    await operator.verb(cmd="set_schedule_paused", id=made["schedule"]["id"], paused=True)
    update, cursor = await _next(board, "schedule", cursor)
    assert update.data["payload"]["status"] == "paused"
    snap = (await operator.get("/schedules.json")).json()
    assert [(s["description"], s["status"]) for s in snap["schedules"]] == [("hourly", "paused")]
    assert snap["agents"] == ["bob"]
    page = await operator.get("/schedules")
    assert page.status_code == 200 and "/static/js/schedules.js" in page.text


async def test_agent_snapshot_has_its_loose_ends_and_model_choices(operator: Operator, hive: Hive) -> None:
    await _peer(operator)
    await _peer(operator, "amy")
    await operator.verb(cmd="set_model", name="amy", model="claude-opus-4-1")
    question = await hive.questions.ask("bob", "deploy?", ["yes", "no"], False, 600, None)
    await hive.reminders.add("bob", "look again", time.time() + 600)
    snap = (await operator.get("/agents/bob.json")).json()
    assert [q["id"] for q in snap["loose_ends"]["questions"]] == [question.id]
    assert [r["body"] for r in snap["loose_ends"]["reminders"]] == ["look again"]
    assert snap["models"] == {"configured": None, "available": [],  # a peer has no agent.toml
                              "suggested": ["claude-opus-4-1", "haiku", "opus", "sonnet"]}


async def test_logs_show_the_tail_across_rotated_files(operator: Operator, hive: Hive) -> None:
    from hyperhive.core.logs import agent_log_path

    await _peer(operator)
    path = agent_log_path(hive.settings.state_dir, "bob")
    path.parent.mkdir(parents=True)
    path.with_name("harness.log.1").write_text("old 1\nold 2\n")
    path.write_text("new 1\nnew 2\n")
    logs = (await operator.get("/agents/bob/logs.json?lines=3")).json()
    assert logs["lines"] == ["old 2", "new 1", "new 2"]
    page = await operator.get("/agents/bob/logs")
    assert page.status_code == 200 and "harness.log" in page.text


async def test_destroyed_agents_are_tombstones_to_revive_or_purge(operator: Operator, spawn: Spawn) -> None:
    """A real managed agent (process runtime): destroy keeps a tombstone row the swarm lists apart, with
    revive and purge as its actions; purge removes the row."""
    await spawn("amy")
    destroyed = await operator.post("/api/action", {"action": "destroy", "name": "amy"})
    assert destroyed.json()["ok"], destroyed.text
    row = (await operator.get("/swarm.json")).json()["agents"][0]
    assert (row["name"], row["state"]) == ("amy", "destroyed")
    assert (await operator.post("/api/action", {"action": "start", "name": "amy"})).json()["code"] == "conflict"
    revived = (await operator.post("/api/action", {"action": "revive", "name": "amy"})).json()
    assert revived["agent_statuses"][0]["state"] == "running"
    await operator.post("/api/action", {"action": "destroy", "name": "amy"})
    purged = (await operator.post("/api/action", {"action": "purge", "name": "amy"})).json()
    assert purged["ok"] and purged["agents"] == []
    assert (await operator.get("/swarm.json")).json()["agents"] == []
