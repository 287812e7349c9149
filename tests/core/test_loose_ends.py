"""Questions and reminders through the real sockets: who may answer, TTL and cancel, reminders that
arrive once — also across a kill -9 of the daemon."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from hyperhive.client import AsyncSocketClient, RequestFailed
from hyperhive.core.hive import Hive
from hyperhive.core.reminders import MAX_PENDING
from tests.support.agents import add_agent, host
from tests.support.fixtures import on_both_backends
from tests.support.hive import AgentConn, HiveProcess

pytest_generate_tests = on_both_backends  # the broker and store behaviour, on SQLite and PostgreSQL


async def next_event(agent: AsyncSocketClient, wait: float = 5) -> dict[str, Any]:
    got = await agent.request("recv", wait_seconds=wait, max=1, ack=True)
    assert got["messages"], "no mail arrived"
    message = got["messages"][0]
    assert message["sender"] == "system"
    return dict(json.loads(message["body"]))


async def test_operator_question_is_answered_only_by_the_operator(hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    asked = (await alice.request("ask", question="Deploy now?", options=["yes", "no"]))["question"]
    assert (asked["target"], asked["status"], asked["options"]) == ("operator", "open", ["yes", "no"])
    with pytest.raises(RequestFailed, match="only the operator answers it"):
        await alice.request("answer", id=asked["id"], answer="yes")
    listed = await host(hive, "questions")
    assert [q["id"] for q in listed["questions"]] == [asked["id"]]
    waiting = asyncio.ensure_future(next_event(alice, wait=10))
    await host(hive, "answer", id=asked["id"], answer="no, wait for Monday")
    event = await asyncio.wait_for(waiting, 5)  # the answer wakes the asker at once
    assert (event["event"], event["id"], event["answer"], event["answered_by"]) == (
        "question_answered", asked["id"], "no, wait for Monday", "operator")
    with pytest.raises(RequestFailed, match="already answered"):
        await host(hive, "answer", id=asked["id"], answer="yes")
    assert (await host(hive, "questions"))["questions"] == []
    await alice.close()


async def test_question_to_an_agent_reaches_it_and_only_it_answers(hive: Hive) -> None:
    alice, bob, carol = [await add_agent(hive, n) for n in ("alice", "bob", "carol")]
    asked = (await alice.request("ask", question="Which port?", to="bob"))["question"]
    told = await next_event(bob)
    assert (told["event"], told["id"], told["from"]) == ("question_asked", asked["id"], "alice")
    with pytest.raises(RequestFailed, match="is for bob, not carol"):
        await carol.request("answer", id=asked["id"], answer="80")
    await bob.request("answer", id=asked["id"], answer="8080")
    assert (await next_event(alice))["answer"] == "8080"
    with pytest.raises(RequestFailed, match="no agent named 'zed'"):
        await alice.request("ask", question="hello?", to="zed")
    for client in (alice, bob, carol):
        await client.close()


async def test_ttl_expires_and_the_asker_may_cancel(hive: Hive) -> None:
    alice, bob = await add_agent(hive, "alice"), await add_agent(hive, "bob")
    short = (await alice.request("ask", question="quick?", ttl_seconds=0.2))["question"]
    event = await next_event(alice)
    assert (event["id"], event["answer"], event["status"]) == (short["id"], "[expired]", "expired")
    other = (await alice.request("ask", question="slow?"))["question"]
    assert other["expires_at"] - other["asked_at"] == pytest.approx(6 * 3600)  # the cap is the default
    with pytest.raises(RequestFailed, match="only alice, who asked"):
        await bob.request("cancel_loose_end", kind="question", id=other["id"])
    await alice.request("cancel_loose_end", kind="question", id=other["id"])
    assert (await next_event(alice))["answer"] == "[cancelled]"
    await alice.close()
    await bob.close()


async def test_reminder_arrives_once_when_due_and_counts_on_the_status_row(hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    set_at = time.monotonic()
    reminder = (await alice.request("remind", message="check the build", delay_seconds=0.3))["reminder"]
    later = (await alice.request("remind", message="much later", delay_seconds=3600))["reminder"]
    row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
    assert row["pending_reminders"] == 2
    got = await alice.request("recv", wait_seconds=5, ack=True)
    assert time.monotonic() - set_at >= 0.3
    assert [(m["sender"], m["body"]) for m in got["messages"]] == [("reminder", "check the build")]
    assert (await alice.request("recv", wait_seconds=0.5))["messages"] == []
    ends = (await alice.request("get_loose_ends"))["loose_ends"]
    assert [r["id"] for r in ends["reminders"]] == [later["id"]] and reminder["id"] != later["id"]
    await alice.request("cancel_loose_end", kind="reminder", id=later["id"])
    row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
    assert row["pending_reminders"] == 0
    await alice.close()


async def test_fifty_pending_reminders_at_most(hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    await alice.request("send_batch", messages=[{"to": "operator", "body": "x"}])  # the socket works
    for i in range(MAX_PENDING):
        await alice.request("remind", message=f"r{i}", delay_seconds=3600)
    with pytest.raises(RequestFailed, match="already has 50 pending reminders"):
        await alice.request("remind", message="one too many", delay_seconds=3600)
    with pytest.raises(RequestFailed, match="exactly one of delay_seconds and at"):
        await alice.request("remind", message="when?")
    with pytest.raises(RequestFailed, match="RFC 3339"):
        await alice.request("remind", message="when?", at="next tuesday")
    await alice.close()


def test_reminder_due_during_downtime_arrives_once_after_kill9(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        alice.request("remind", message="during downtime", delay_seconds=0.5)
        alice.request("remind", message="before the kill", delay_seconds=0.0)
        first = alice.request("recv", wait_seconds=5)["messages"]
        assert [m["body"] for m in first] == ["before the kill"]
    hive_proc.kill9()
    time.sleep(0.8)  # the second reminder falls due while no daemon runs
    hive_proc.start()
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        got = alice.request("recv", wait_seconds=5, max=10)["messages"]
        if len(got) < 2:  # the reminder may fire a moment after the daemon says it is ready
            got += alice.request("recv", wait_seconds=5, max=10)["messages"]
        assert alice.request("recv", wait_seconds=0.3)["messages"] == []
        # "before the kill" was never acked, so it comes again (at-least-once mail); the reminder itself
        # was delivered once: one message each, no duplicate from a second firing.
        assert sorted(m["body"] for m in got) == ["before the kill", "during downtime"]
        alice.request("ack", ids=[m["id"] for m in got])
    hive_proc.stop()
    hive_proc.start()
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        assert alice.request("recv", wait_seconds=0.3)["messages"] == []
        row = hive_proc.host.request("agent_status", names=["alice"])["agent_statuses"][0]
        assert row["pending_reminders"] == 0


async def test_the_operator_can_cancel_any_question_or_reminder(hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    asked = (await alice.request("ask", question="?"))["question"]
    reminder = (await alice.request("remind", message="later", delay_seconds=60))["reminder"]
    ends = (await host(hive, "loose_ends"))["loose_ends"]
    assert ([q["id"] for q in ends["questions"]], [r["id"] for r in ends["reminders"]]) == (
        [asked["id"]], [reminder["id"]])
    assert (await host(hive, "cancel_question", id=asked["id"]))["question"]["answer"] == "[cancelled]"
    assert (await host(hive, "cancel_reminder", id=reminder["id"]))["reminder"]["id"] == reminder["id"]
    with pytest.raises(RequestFailed, match="no pending reminder"):
        await host(hive, "cancel_reminder", id=reminder["id"])
    assert (await host(hive, "reminders"))["reminders"] == []
    await alice.close()
