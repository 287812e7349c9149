"""Group commit of sends on PostgreSQL (store/postgres_messages_batch.py): the sends of concurrent callers
share one transaction, each caller is answered after that commit with its own rows in its own order, and a
caller whose row the database refuses fails alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import psycopg
import pytest

from hyperhive.store.postgres import PostgresStore
from hyperhive.store.records import MessageRecord, NewMessage
from tests.support.postgres import PostgresServer

CALLERS = 50


@pytest.fixture
async def store(postgres_server: PostgresServer) -> AsyncIterator[PostgresStore]:
    made = PostgresStore(postgres_server.new_database())
    await made.open()
    try:
        yield made
    finally:
        await made.close()


def mail(sender: str, *bodies: str) -> list[NewMessage]:
    return [NewMessage(sender, "bob", body, time.time()) for body in bodies]


async def committed(store: PostgresStore, ids: list[int]) -> set[int]:
    """Which of `ids` another session sees: committed, not merely written."""
    async with await psycopg.AsyncConnection.connect(store.url, autocommit=True) as conn:
        rows = await (await conn.execute("SELECT id FROM messages WHERE id = ANY(%s)", (ids,))).fetchall()
    return {row[0] for row in rows}


async def test_concurrent_sends_share_a_commit_and_each_caller_gets_its_rows(store: PostgresStore) -> None:
    async def caller(k: int) -> tuple[list[MessageRecord], set[int]]:
        stored = await store.insert_messages(mail(f"a{k}", f"{k}-first", f"{k}-second"))
        return stored, await committed(store, [m.id for m in stored])  # seen by others once answered

    answers = await asyncio.gather(*(caller(k) for k in range(CALLERS)))
    for k, (stored, seen) in enumerate(answers):
        assert [(m.sender, m.body) for m in stored] == [(f"a{k}", f"{k}-first"), (f"a{k}", f"{k}-second")]
        assert stored[0].id < stored[1].id and seen == {m.id for m in stored}
    ids = [m.id for stored, _ in answers for m in stored]
    assert len(set(ids)) == 2 * CALLERS
    async with await psycopg.AsyncConnection.connect(store.url, autocommit=True) as conn:
        # Each transaction stamps its rows with its own id (xmin): 100 rows from 50 callers, few commits.
        row = await (await conn.execute("SELECT count(DISTINCT xmin::text) FROM messages")).fetchone()
    assert row is not None and row[0] <= 2, f"{row[0]} transactions for {CALLERS} concurrent callers"


async def test_a_caller_whose_row_is_refused_fails_alone(store: PostgresStore) -> None:
    good = [store.insert_messages(mail(f"g{k}", f"fine {k}")) for k in range(3)]
    bad = store.insert_messages(mail("b", "a NUL byte \x00 PostgreSQL text cannot hold"))
    answers = await asyncio.gather(good[0], bad, good[1], good[2], return_exceptions=True)
    assert isinstance(answers[1], psycopg.DataError)
    fine = [a for i, a in enumerate(answers) if i != 1]
    assert [[m.body for m in a] for a in fine if isinstance(a, list)] == [["fine 0"], ["fine 1"], ["fine 2"]]
    assert [m.body for m in await store.unacked_messages("bob", 10)] == ["fine 0", "fine 1", "fine 2"]
