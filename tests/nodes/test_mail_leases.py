"""Mail in hand is leased to a node's incarnation (owner, epoch, expiry on the database's clock), renewed by
the node's heartbeat: an ack from a stale epoch is refused; a restarted node takes its dead incarnation's
mail back at once; a lease whose node died expires and the mail is handed out again; per-agent order holds
(a message leased elsewhere holds back the ones after it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from hyperhive.store import NewMessage
from hyperhive.store.nodes import MailHolder
from hyperhive.store.postgres import PostgresStore
from tests.support.postgres import PostgresServer

OpenNode = Callable[[str, float], Awaitable[PostgresStore]]


@pytest.fixture
async def node_store(postgres_server: PostgresServer) -> AsyncIterator[OpenNode]:
    """`await node_store("n1", ttl)`: a store as node n1's new incarnation opens it (a beat that starts it)."""
    url = postgres_server.new_database()
    opened: list[PostgresStore] = []

    async def open_node(node: str, ttl: float) -> PostgresStore:
        store = PostgresStore(url)
        await store.open()
        opened.append(store)
        store.hold_mail(MailHolder(node, await store.node_beat(node, starting=True), ttl))
        return store

    yield open_node
    for store in opened:
        await store.close()


async def _send(store: PostgresStore, *bodies: str) -> list[int]:
    stored = await store.insert_messages([NewMessage("alice", "bob", body, time.time()) for body in bodies])
    return [m.id for m in stored]


async def _take(store: PostgresStore, limit: int = 10) -> list[int]:
    """What a recv on this node hands out: read, then mark delivered (leased)."""
    ids = [m.id for m in await store.unacked_messages("bob", limit)]
    if ids:
        await store.mark_delivered(ids, time.time())
    return ids


async def test_an_ack_from_a_stale_epoch_is_refused(node_store: OpenNode) -> None:
    old = await node_store("n1", 60.0)
    (m,) = await _send(old, "in hand when n1 died")
    assert await _take(old) == [m]
    new = await node_store("n1", 60.0)  # n1 restarted: epoch one higher
    assert new.mail_holder and old.mail_holder and new.mail_holder.epoch == old.mail_holder.epoch + 1
    assert await _take(new) == [m]  # its dead incarnation's mail: taken back at once, not after 60 s
    assert await old.ack_messages("bob", [m], time.time()) == []  # the stale epoch's ack is refused
    assert await new.count_unacked("bob") == 1
    assert await new.ack_messages("bob", [m], time.time()) == [m]


async def test_a_dead_nodes_lease_expires_and_its_mail_is_delivered_again_in_order(node_store: OpenNode) -> None:
    ttl = 3.0
    n1, n2 = await node_store("n1", ttl), await node_store("n2", ttl)
    first, second = await _send(n1, "first", "second")
    assert await _take(n1, limit=1) == [first]
    assert await _take(n2) == []  # first is n1's; second waits behind it (order), it is not handed out past it
    await asyncio.sleep(ttl / 2)
    await n1.node_beat("n1")  # a heartbeat during a long turn renews the lease
    await asyncio.sleep(ttl / 2 + 0.3)  # past the first expiry, within the renewed one
    assert await _take(n2) == []
    # n1 beats no more (it died): once the renewed lease runs out, n2 may deliver the mail again, in order
    await asyncio.sleep(ttl / 2)
    deadline = time.monotonic() + 10
    while not (taken := await _take(n2)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # the expiry is on the database's clock; a loaded machine may lag behind it
    assert taken == [first, second]
    assert await n1.ack_messages("bob", [first], time.time()) == []  # the dead holder's late ack: refused
    assert await n2.ack_messages("bob", [first, second], time.time()) == [first, second]
