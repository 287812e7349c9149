"""Change feeds: a watcher of agents' records and states (the nodes' observed-state publisher, a deploy
waiting for its harness) is not woken by the flood of counts that move with every message."""

from __future__ import annotations

import asyncio

from hyperhive.client import AsyncSocketClient
from hyperhive.core.changes import ChangeFeed
from hyperhive.core.hive import Hive


async def test_a_counts_change_reaches_only_the_subscribers_that_want_counts() -> None:
    feed = ChangeFeed()
    rows, states = feed.subscribe(), feed.subscribe(counts=False)
    feed.counts_changed("alice")
    feed.changed("bob")
    assert await asyncio.wait_for(rows.next_batch(), 5) == ["alice", "bob"]
    assert await asyncio.wait_for(states.next_batch(), 5) == ["bob"]


async def test_mail_marks_the_recipients_row_but_no_state_watcher(hive: Hive) -> None:
    for name in ("alice", "bob"):
        await hive.host_server.handle(None, {"cmd": "register_peer", "name": name})  # type: ignore[arg-type]
    rows, states = hive.registry.changes.subscribe(), hive.registry.changes.subscribe(counts=False)
    alice = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
    try:
        await alice.request("send", to="bob", body="hello")
    finally:
        await alice.close()
    assert "bob" in await asyncio.wait_for(rows.next_batch(), 5)  # bob's unread count moved
    # A state change afterwards: the state watcher's first batch is that one alone, bob's mail was not in it.
    await hive.host_server.handle(None, {"cmd": "set_paused", "name": "alice", "paused": True})  # type: ignore[arg-type]
    assert await asyncio.wait_for(states.next_batch(), 5) == ["alice"]
    rows.close()
    states.close()
