"""Two hive-c0re nodes on one PostgreSQL database: mail committed on one wakes a reader blocked on the
other at once (NOTIFY in the sending transaction), and a notification missed while a node's listener was
away is caught up when it comes back (LISTEN first, then re-read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from hyperhive.client import AsyncSocketClient
from hyperhive.core.hive import Hive
from hyperhive.store.postgres import PostgresStore
from tests.support.hive import settings_for
from tests.support.postgres import PostgresServer


@pytest.fixture
async def two_nodes(short_tmp: Path, postgres_server: PostgresServer) -> AsyncIterator[tuple[Hive, Hive]]:
    url = postgres_server.new_database()
    async with AsyncExitStack() as stack:
        n2 = await stack.enter_async_context(Hive(settings_for(short_tmp / "n2", database=url, node="n2")))
        await n2.host_server.handle(None, {"cmd": "register_peer", "name": "bob"})  # type: ignore[arg-type]
        n1 = await stack.enter_async_context(Hive(settings_for(short_tmp / "n1", database=url, node="n1")))
        yield n1, n2


async def test_mail_sent_on_one_node_wakes_a_reader_on_the_other(two_nodes: tuple[Hive, Hive]) -> None:
    n1, n2 = two_nodes
    bob = AsyncSocketClient(n2.settings.agent_socket_dir("bob") / "mcp.sock")
    try:
        waiting = asyncio.create_task(bob.request("recv", wait_seconds=120))
        await _until_blocked(n2, "bob")
        sent = await n1.host_server.handle(None, {"cmd": "send", "to": "bob", "body": "from n1"})  # type: ignore[arg-type]
        got = await asyncio.wait_for(waiting, 10)  # far below the 120 s long poll: woken, not timed out
        assert [m["id"] for m in got["messages"]] == [sent["id"]]
    finally:
        await bob.close()


async def test_a_notification_missed_while_the_listener_was_away_is_caught_up(
        two_nodes: tuple[Hive, Hive]) -> None:
    n1, n2 = two_nodes
    store = n2.store
    assert isinstance(store, PostgresStore) and store.listener is not None
    bob = AsyncSocketClient(n2.settings.agent_socket_dir("bob") / "mcp.sock")
    try:
        waiting = asyncio.create_task(bob.request("recv", wait_seconds=120))
        await _until_blocked(n2, "bob")
        await store.listener.close()  # n2 is cut off from notifications...
        sent = await n1.host_server.handle(None, {"cmd": "send", "to": "bob", "body": "untold"})  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        assert not waiting.done()  # ...so nothing told bob's reader
        store.listener.start()  # back: LISTEN, then catch up
        got = await asyncio.wait_for(waiting, 10)
        assert [m["id"] for m in got["messages"]] == [sent["id"]]
    finally:
        await bob.close()


async def _until_blocked(hive: Hive, name: str) -> None:
    """The reader is parked on its arrival event (the broker took it before reading the store)."""
    inboxes = hive.broker.inboxes
    while name not in inboxes._arrived:  # the test looks inside rather than sleeping blind
        await asyncio.sleep(0.01)
