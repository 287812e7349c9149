"""Approvals (the gate) and scheduled prompts (one kind of approval) through the real sockets."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from hyperhive.client import AsyncSocketClient, RequestFailed
from hyperhive.core.hive import Hive
from hyperhive.core.schedules import next_slot
from tests.support.agents import add_agent, host
from tests.support.fixtures import on_both_backends
from tests.support.hive import AgentConn, HiveProcess

pytest_generate_tests = on_both_backends  # the broker and store behaviour, on SQLite and PostgreSQL


async def mail(agent: AsyncSocketClient, wait: float = 5) -> dict[str, Any]:
    got = await agent.request("recv", wait_seconds=wait, max=1, ack=True)
    assert got["messages"], "no mail arrived"
    return dict(got["messages"][0])


def test_next_slot_skips_missed_intervals() -> None:
    assert next_slot(100.0, None, 500.0) is None
    assert next_slot(100.0, 60.0, 90.0) == 100.0
    assert next_slot(100.0, 60.0, 100.0) == 160.0
    assert next_slot(100.0, 60.0, 1000.0) == 1060.0  # one firing after downtime, then back on the grid


async def test_an_agents_schedule_waits_for_approval_then_fires(hive: Hive) -> None:
    alice, bob = await add_agent(hive, "alice"), await add_agent(hive, "bob")
    first = time.time() + 0.3
    asked = await alice.request("request_schedule_prompt", targets=["bob"], body="stand-up time",
                                first_fire_at=first, description="daily stand-up")
    approval, schedule = asked["approval"], asked["schedule"]
    assert (approval["kind"], approval["status"], schedule["status"]) == ("schedule_prompt", "pending",
                                                                          "awaiting_approval")
    row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
    assert row["pending_approvals"] == 1
    listed = (await host(hive, "pending", status="pending"))["approvals"]
    assert [a["id"] for a in listed] == [approval["id"]] and "to bob" in listed[0]["details"]["summary"]
    await asyncio.sleep(0.4)
    assert (await bob.request("recv", wait_seconds=0))["messages"] == []  # not approved: nothing fires
    await host(hive, "approve", id=approval["id"])
    told = json.loads((await mail(alice))["body"])
    assert (told["event"], told["approval"]["status"]) == ("approval_resolved", "approved")
    fired = await mail(bob)  # due already: fires as soon as it is active
    assert (fired["sender"], fired["body"]) == ("schedule", "stand-up time")
    with pytest.raises(RequestFailed, match="already approved"):
        await host(hive, "approve", id=approval["id"])
    with pytest.raises(RequestFailed, match="no approval #999"):
        await host(hive, "approve", id=999)
    done = (await host(hive, "schedules", all=True))["schedules"][0]
    assert (done["status"], done["fire_count"]) == ("done", 1)
    await alice.close()
    await bob.close()


async def test_denied_schedule_is_cancelled_and_the_note_reaches_the_requester(hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    asked = await alice.request("request_schedule_prompt", targets=["alice"], body="x", first_fire_at=time.time())
    await host(hive, "deny", id=asked["approval"]["id"], note="not on weekends")
    told = json.loads((await mail(alice))["body"])["approval"]
    assert (told["status"], told["note"]) == ("denied", "not on weekends")
    schedule = (await host(hive, "schedules", all=True))["schedules"][0]
    assert schedule["status"] == "cancelled"
    with pytest.raises(RequestFailed, match="already denied"):
        await host(hive, "approve", id=asked["approval"]["id"])
    await alice.close()


async def test_operator_schedules_pause_edit_fire_and_cancel(hive: Hive) -> None:
    alice, bob = await add_agent(hive, "alice"), await add_agent(hive, "bob")
    created = (await host(hive, "create_schedule", targets=["alice", "bob"], body="tick",
                          first_fire_at=time.time() + 0.2, interval_seconds=1.0))["schedule"]
    assert created["status"] == "active"
    assert (await mail(alice))["body"] == "tick" and (await mail(bob))["body"] == "tick"
    assert (await mail(alice))["body"] == "tick"  # recurring
    paused = (await host(hive, "set_schedule_paused", id=created["id"], paused=True))["schedule"]
    assert paused["status"] == "paused"
    await mail(bob)  # the firing bob had not read yet, if any, is drained below
    while (await bob.request("recv", wait_seconds=0, ack=True))["messages"]:
        pass
    assert (await bob.request("recv", wait_seconds=1.2))["messages"] == []  # paused: nothing fires
    await host(hive, "update_schedule", id=created["id"], body="tock")
    fired = (await host(hive, "fire_schedule", id=created["id"]))["schedule"]
    assert (await mail(bob))["body"] == "tock" and fired["status"] == "paused"
    await host(hive, "cancel_schedule", id=created["id"], targets=["bob"])
    await host(hive, "set_schedule_paused", id=created["id"], paused=False)
    while (await alice.request("recv", wait_seconds=0, ack=True))["messages"]:
        pass
    assert (await mail(alice))["body"] == "tock"
    assert (await bob.request("recv", wait_seconds=1.2))["messages"] == []  # bob was taken off it
    gone = (await host(hive, "cancel_schedule", id=created["id"]))["schedule"]
    assert gone["status"] == "cancelled"
    with pytest.raises(RequestFailed, match="already cancelled"):
        await host(hive, "cancel_schedule", id=created["id"])
    await alice.close()
    await bob.close()


async def test_agents_see_and_cancel_only_their_own_schedules(hive: Hive) -> None:
    alice, bob = await add_agent(hive, "alice"), await add_agent(hive, "bob")
    mine = (await alice.request("request_schedule_prompt", targets=["alice"], body="x",
                                first_fire_at="2030-01-01T00:00:00Z"))["schedule"]
    with pytest.raises(RequestFailed, match="belongs to alice"):
        await bob.request("cancel_schedule", id=mine["id"])
    assert (await bob.request("list_schedules"))["schedules"] == []
    ends = (await alice.request("get_loose_ends"))["loose_ends"]
    assert [s["id"] for s in ends["schedules"]] == [mine["id"]] and len(ends["approvals"]) == 1
    await alice.request("cancel_loose_end", kind="schedule", id=mine["id"])
    approval = (await host(hive, "pending"))["approvals"][0]
    assert approval["status"] == "cancelled"  # its approval card went with it
    with pytest.raises(RequestFailed, match="interval_seconds"):
        await alice.request("request_schedule_prompt", targets=["alice"], body="x", first_fire_at=time.time(),
                            interval_seconds=0.01)
    await alice.close()
    await bob.close()


def test_recurring_schedule_fires_once_after_downtime(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    created = {"first": time.time() + 0.2}
    hive_proc.host.request("create_schedule", targets=["alice"], body="every second",
                           first_fire_at=created["first"], interval_seconds=1.0)
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        first = alice.request("recv", wait_seconds=5, ack=True)["messages"]
        assert [m["body"] for m in first] == ["every second"]
    hive_proc.kill9()
    time.sleep(3.5)  # three or four intervals pass with no daemon
    restarted = time.time()
    hive_proc.start()
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        got = alice.request("recv", wait_seconds=5, max=10, ack=True)["messages"]
        checked = time.time()
        # One firing catches up for all the missed slots; after it, only slots on the grid
        # (first_fire + k seconds) that passed since the restart may have fired too. A firing per missed
        # slot would be three or four more.
        on_grid = sum(1 for k in range(100) if restarted <= created["first"] + k <= checked)
        assert 1 <= len(got) <= 1 + on_grid
        assert all(m["body"] == "every second" for m in got)
