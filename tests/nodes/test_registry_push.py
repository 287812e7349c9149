"""Agent rows made, changed or removed on one node reach the other nodes' registries by push (NOTIFY
hive_agents), with no restart and no polling; news missed while a node's listener was away is caught up when
it reconnects (every row re-read). Approvals shown or resolved on one node reach the others' queues."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from hyperhive.store.postgres import PostgresStore
from tests.support.hive import settings_for
from tests.support.postgres import PostgresServer


@pytest.fixture
async def two_nodes(short_tmp: Path, postgres_server: PostgresServer) -> AsyncIterator[tuple[Hive, Hive]]:
    url = postgres_server.new_database()
    async with AsyncExitStack() as stack:
        n1 = await stack.enter_async_context(Hive(settings_for(short_tmp / "n1", database=url, node="n1")))
        n2 = await stack.enter_async_context(Hive(settings_for(short_tmp / "n2", database=url, node="n2")))
        yield n1, n2


async def _until(hive: Hive, condition: Callable[[], bool]) -> None:
    """Wait on the registry's own change feed (what the dashboard and subscribe_agent_status follow)."""
    changes = hive.registry.changes.subscribe()
    try:
        while not condition():
            await asyncio.wait_for(changes.next_batch(), 10)
    finally:
        changes.close()


async def test_rows_made_changed_and_removed_on_one_node_reach_the_other(two_nodes: tuple[Hive, Hive]) -> None:
    n1, n2 = two_nodes
    await n2.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
    await _until(n1, lambda: n1.registry.get("bob") is not None)
    assert n1.registry.require("bob").node == "n2"
    await n2.host_server.handle(None, {"cmd": "set_paused", "name": "bob", "paused": True})  # type: ignore[arg-type]
    await _until(n1, lambda: n1.registry.require("bob").paused)
    rows = await n1.status_rows(["bob"])
    assert (rows[0].paused, rows[0].node, rows[0].node_offline) == (True, "n2", False)
    await n2.registry.remove("bob")
    await _until(n1, lambda: n1.registry.get("bob") is None)


async def test_rows_made_while_the_listener_was_away_are_caught_up(two_nodes: tuple[Hive, Hive]) -> None:
    n1, n2 = two_nodes
    store = n1.store
    assert isinstance(store, PostgresStore) and store.listener is not None
    await store.listener.close()  # n1 hears nothing now...
    await n2.host_server.handle(None, {"cmd": "register_peer", "name": "carol"})  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    assert n1.registry.get("carol") is None  # ...so carol is not known there yet
    store.listener.start()  # back: LISTEN, then every row re-read
    await _until(n1, lambda: n1.registry.get("carol") is not None)


async def test_an_approval_asked_on_one_node_is_shown_and_decided_on_the_other(two_nodes: tuple[Hive, Hive]) -> None:
    """One approval queue: a request made on n2 after n1 started is counted on n1's rows and approved there."""
    n1, n2 = two_nodes
    await n2.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
    await _until(n1, lambda: n1.registry.get("bob") is not None)
    _, approval = await n2.schedules.request("bob", ["bob"], "wake up", time.time() + 3600, None, "a nudge")
    assert approval.status == "pending"
    await _until(n1, lambda: n1.approvals.pending_count("bob") == 1)
    assert (await n1.status_rows(["bob"]))[0].pending_approvals == 1
    approved = await n1.approvals.approve(approval.id)  # not refused as "not ready to decide"
    assert approved.status == "approved"
    await _until(n2, lambda: n2.approvals.pending_count("bob") == 0)  # and n2 hears it was decided


async def test_approved_work_is_done_by_the_agents_node(two_nodes: tuple[Hive, Hive]) -> None:
    """Approved on n1, the work for n2's agent runs on n2: here, the approved schedule's timer is armed there."""
    n1, n2 = two_nodes
    await n2.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
    await _until(n1, lambda: n1.registry.get("bob") is not None)
    schedule, approval = await n2.schedules.request("bob", ["bob"], "wake up", time.time() + 3600, None, "a nudge")
    await _until(n1, lambda: n1.approvals.pending_count("bob") == 1)
    await n1.approvals.approve(approval.id)
    await _until(n2, lambda: schedule.id in n2.schedules._timers._handles)  # n2 did the work...
    assert schedule.id not in n1.schedules._timers._handles  # ...and n1 did not
    done = await n1.store.get_approval(approval.id)
    assert done is not None and done.done_at is not None
