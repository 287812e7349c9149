"""The verbs a harness uses besides mail: live transcript reports, harness state, operator controls,
another turn, and its log tail."""

from __future__ import annotations

import asyncio

import pytest

from hyperhive.client import AsyncSocketClient, RequestFailed, stream
from hyperhive.core.hive import Hive
from hyperhive.core.logs import agent_log_path
from tests.support.agents import add_agent, host


async def test_report_stores_transcript_events_in_order(hive: Hive) -> None:
    agent = await add_agent(hive, "alice")
    seen: list[str] = []
    hive.events.listen(lambda events: seen.extend(e.kind for e in events))
    result = await agent.request("report", events=[
        {"kind": "turn_start", "payload": {"from": "operator", "body": "hi", "unread": 0}},
        {"kind": "stream", "payload": {"type": "assistant"}},
        {"kind": "turn_end", "payload": {"ok": True}},
    ])
    assert len(result["seqs"]) == 3 and result["seqs"] == sorted(result["seqs"])
    assert seen == ["turn.turn_start", "turn.stream", "turn.turn_end"]
    stored = await host(hive, "events", agent="alice")
    assert [e["kind"] for e in stored["events"]] == seen
    assert stored["events"][0]["payload"]["body"] == "hi"
    with pytest.raises(RequestFailed, match="kind"):
        await agent.request("report", events=[{"kind": "made_up", "payload": {}}])
    await agent.close()


async def test_harness_state_shows_on_the_status_row_until_it_disconnects(hive: Hive) -> None:
    agent = await add_agent(hive, "alice")
    await agent.request("hello", role="harness")
    await agent.request("harness_state", activity="rate_limited", detail="retry in 30 s", model="claude-x")
    row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
    assert (row["activity"], row["activity_detail"], row["active_model"]) == ("rate_limited", "retry in 30 s",
                                                                             "claude-x")
    await agent.request("harness_state", activity="needs_login", needs_login=True)
    row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
    assert row["needs_login"] is True and row["activity"] == "needs_login"
    await agent.close()
    await asyncio.sleep(0)  # let the server notice the hang-up
    for _ in range(100):
        row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
        if row["activity"] is None:
            break
        await asyncio.sleep(0.01)
    assert row["activity"] is None


async def test_controls_reach_the_connected_harness_in_order(hive: Hive) -> None:
    await add_agent(hive, "alice")
    path = hive.settings.agent_socket_dir("alice") / "mcp.sock"
    with pytest.raises(RequestFailed, match="not connected"):
        await host(hive, "interrupt", name="alice")
    controls = stream(path, "control_stream")
    assert (await anext(controls))["ok"] is True
    await host(hive, "interrupt", name="alice")
    await host(hive, "set_model", name="alice", model="claude-haiku-4-5")
    await host(hive, "new_session", name="alice")
    await host(hive, "compact", name="alice")
    got = [await asyncio.wait_for(anext(controls), 5) for _ in range(4)]
    assert [(c["control"], c.get("model")) for c in got] == [
        ("interrupt", None), ("set_model", "claude-haiku-4-5"), ("new_session", None), ("compact", None)]
    await controls.aclose()
    with pytest.raises(RequestFailed, match="no agent named 'nobody'"):
        await host(hive, "interrupt", name="nobody")


async def test_set_model_is_kept_for_a_harness_that_starts_later(hive: Hive) -> None:
    agent = await add_agent(hive, "alice")
    await host(hive, "set_model", name="alice", model="claude-opus-4-5")
    assert (await agent.request("hello", role="harness"))["active_model"] == "claude-opus-4-5"
    with pytest.raises(RequestFailed, match="model"):
        await host(hive, "set_model", name="alice", model="bad model; rm")
    await agent.close()


async def test_request_next_turn_queues_a_message_from_self(hive: Hive) -> None:
    agent = await add_agent(hive, "alice")
    await agent.request("request_next_turn", note="finish the report")
    got = await agent.request("recv", wait_seconds=1)
    assert [(m["sender"], m["body"]) for m in got["messages"]] == [("self", "finish the report")]
    await agent.close()


async def test_paused_harness_gets_no_mail_until_resumed_but_its_tools_do(hive: Hive) -> None:
    harness = await add_agent(hive, "alice")
    tools = AsyncSocketClient(harness.path)
    await harness.request("hello", role="harness")
    await host(hive, "set_paused", name="alice", paused=True)
    await host(hive, "send", to="alice", body="later")
    assert (await harness.request("recv", wait_seconds=0.2))["messages"] == []
    waiting = asyncio.ensure_future(harness.request("recv", wait_seconds=10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await host(hive, "set_paused", name="alice", paused=False)
    got = await asyncio.wait_for(waiting, 5)  # resume wakes the held recv at once
    assert [m["body"] for m in got["messages"]] == ["later"]
    await harness.close()
    peek = await tools.request("recv", wait_seconds=0)  # the model's own recv tool is never held
    assert [m["body"] for m in peek["messages"]] == ["later"]
    await tools.close()


async def test_get_logs_reads_the_rotated_tail(hive: Hive) -> None:
    agent = await add_agent(hive, "alice")
    log = agent_log_path(hive.settings.state_dir, "alice")
    log.parent.mkdir(parents=True)
    log.with_name("harness.log.1").write_text("old 1\nold 2\n")
    log.write_text("new 1\nnew 2\n")
    assert (await agent.request("get_logs", lines=3))["lines"] == ["old 2", "new 1", "new 2"]
    await agent.close()


async def test_set_model_keeps_to_the_agents_available_models(hive: Hive) -> None:
    await hive.deployments.spawn_now("alice", "", 'name = "alice"\nrole = "agent"\nmodel = "claude-sonnet-4-5"\n'
                                     'available_models = ["claude-sonnet-4-5", "claude-haiku-4-5"]\n')
    await host(hive, "set_model", name="alice", model="claude-haiku-4-5")
    with pytest.raises(RequestFailed, match="not in its available_models"):
        await host(hive, "set_model", name="alice", model="claude-opus-4-5")
    await hive.supervisor.stop_agent("alice")
