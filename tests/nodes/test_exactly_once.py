"""Reminders and schedules fire exactly once hive-wide: two nodes that both know one (both armed its timer
for the same moment) race to fire it, and the database lets one win (`FOR UPDATE SKIP LOCKED` on the
reminder; a compare-and-set on the schedule's slot)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from hyperhive.protocol import REMINDER_SENDER, SCHEDULE_SENDER
from tests.support.hive import settings_for
from tests.support.postgres import PostgresServer

StartNode = Callable[[str], Awaitable[Hive]]


@pytest.fixture
async def nodes(short_tmp: Path, postgres_server: PostgresServer) -> AsyncIterator[StartNode]:
    url = postgres_server.new_database()
    async with AsyncExitStack() as stack:
        async def start(name: str) -> Hive:
            return await stack.enter_async_context(Hive(settings_for(short_tmp / name, database=url, node=name)))

        yield start


async def _after_both_fired(due_at: float, *hives: Hive) -> None:
    """The timers of both nodes are due before this sleep ends (the loop runs them in deadline order); then
    wait for the firings they started."""
    await asyncio.sleep(max(0.0, due_at - time.time()) + 0.05)
    for h in hives:
        await h.reminders._timers.settle()
        await h.schedules._timers.settle()


async def test_a_reminder_both_nodes_armed_is_delivered_once(nodes: StartNode) -> None:
    n1 = await nodes("n1")
    await n1.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
    due = time.time() + 1.5
    for i in range(5):
        await n1.reminders.add("bob", f"ping {i}", due)
    n2 = await nodes("n2")  # loads the pending reminders at start: both nodes arm all five
    assert len(n2.reminders.pending("bob")) == 5
    await _after_both_fired(due, n1, n2)
    mail = [m for m in await n1.store.inbox_messages("bob", 50, False) if m.sender == REMINDER_SENDER]
    assert sorted(m.body for m in mail) == [f"ping {i}" for i in range(5)]  # each once


async def test_a_schedule_both_nodes_armed_fires_once_per_slot(nodes: StartNode) -> None:
    n1 = await nodes("n1")
    await n1.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
    due = time.time() + 1.5
    made = [await n1.schedules.create(["bob"], f"tick {i}", due, 3600.0, "hourly") for i in range(3)]
    n2 = await nodes("n2")  # arms the active schedules it finds at start
    await _after_both_fired(due, n1, n2)
    mail = [m for m in await n1.store.inbox_messages("bob", 50, False) if m.sender == SCHEDULE_SENDER]
    assert sorted(m.body for m in mail) == [f"tick {i}" for i in range(3)]
    for schedule in made:
        fired = await n1.store.get_schedule(schedule.id)
        assert fired is not None and fired.fire_count == 1 and fired.next_fire_at == pytest.approx(due + 3600)


async def test_a_node_whose_timer_fires_after_the_other_fired_waits_for_the_next_slot(nodes: StartNode) -> None:
    """The late node reads the schedule already moved on: it must not take the next slot for its own."""
    n1 = await nodes("n1")
    await n1.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
    due = time.time() + 3600
    schedule = await n1.schedules.create(["bob"], "tick", due, 3600.0, "hourly")
    n2 = await nodes("n2")
    await n1.store.update_schedule(schedule.id, next_fire_at=time.time() - 1)  # the slot is due now
    await n1.schedules._fire(schedule.id)  # n1's timer first...
    await n2.schedules._fire(schedule.id)  # ...then n2's, armed for the same slot
    mail = [m for m in await n1.store.inbox_messages("bob", 50, False) if m.sender == SCHEDULE_SENDER]
    assert len(mail) == 1
    fired = await n2.store.get_schedule(schedule.id)
    assert fired is not None and fired.fire_count == 1 and fired.next_fire_at is not None
    assert fired.next_fire_at > time.time() + 3000  # the next slot is still ahead
