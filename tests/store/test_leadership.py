"""One node leads the hive-wide duties, by a lease on the database's clock: a second node follows; when the
leader is gone the lease runs out and the follower takes over with a higher epoch; a leader that cannot
reach the database stops its duties at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hyperhive.core.leadership import Leadership
from hyperhive.store.postgres import PostgresStore
from tests.support.postgres import PostgresServer

TTL = 0.9


class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.changed = asyncio.Event()

    async def lead(self) -> None:
        self.log.append("lead")
        self.changed.set()

    async def follow(self) -> None:
        self.log.append("follow")
        self.changed.set()

    async def next_change(self, timeout: float) -> str:
        await asyncio.wait_for(self.changed.wait(), timeout)
        self.changed.clear()
        return self.log[-1]


@pytest.fixture
async def stores(postgres_server: PostgresServer) -> AsyncIterator[list[PostgresStore]]:
    url = postgres_server.new_database()
    made = [PostgresStore(url), PostgresStore(url)]
    for store in made:
        await store.open()
    yield made
    for store in made:
        await store.close()


async def test_the_follower_takes_over_when_the_leader_is_gone(stores: list[PostgresStore]) -> None:
    d1, d2 = Recorder(), Recorder()
    n1 = Leadership(stores[0], "n1", [d1], ttl=TTL)
    n2 = Leadership(stores[1], "n2", [d2], ttl=TTL)
    await n1.start()
    await n2.start()
    assert (n1.leading, n1.epoch, n2.leading) == (True, 1, False) and d1.log == ["lead"] and d2.log == []
    await n1._timers.close()  # n1 dies: no renewal, no release (the lease must run out on its own)
    assert await d2.next_change(timeout=TTL * 3) == "lead"
    assert (n2.leading, n2.epoch) == (True, 2)
    assert {n.name for n in await stores[1].list_nodes()} == {"n1", "n2"}
    await n2.close()


async def test_a_clean_stop_hands_over_at_once(stores: list[PostgresStore]) -> None:
    d2 = Recorder()
    n1 = Leadership(stores[0], "n1", [Recorder()], ttl=60)  # a lease that would run a minute
    n2 = Leadership(stores[1], "n2", [d2], ttl=0.3)
    await n1.start()
    await n2.start()
    await n1.close()  # released: n2's next renewal (0.1 s) takes it, not after 60 s
    assert await d2.next_change(timeout=5) == "lead"
    await n2.close()


async def test_a_leader_cut_off_from_the_database_stops_leading(postgres_server: PostgresServer) -> None:
    store = PostgresStore(postgres_server.new_database())
    await store.open()
    duty = Recorder()
    node = Leadership(store, "n1", [duty], ttl=TTL)
    try:
        await node.start()
        assert duty.log == ["lead"]
        duty.changed.clear()
        postgres_server.stop_server()
        try:
            assert await duty.next_change(timeout=TTL + 10) == "follow"  # renewal failed: duties stop
        finally:
            postgres_server.start_server()
        assert await duty.next_change(timeout=TTL + 10) == "lead"  # back, and the lease is free or its own
    finally:
        await node.close()
        await store.close()
