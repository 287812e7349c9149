"""Group commit for sends on PostgreSQL: the sends of concurrent requests share one transaction.

Each commit costs a WAL flush, and the NOTIFY that tells the other nodes takes a database-wide lock from
its commit until the commit is done, so commits carrying NOTIFY run one at a time whatever the pool size.
One writer task therefore takes every send queued while the previous transaction was committing, inserts
them all and notifies each recipient once in one transaction, and answers each caller after that commit
(its rows committed, in its order). An idle writer starts at once: a lone send waits for nothing.

A batch that fails for a reason of its own (not an unreachable database) is retried one caller per
transaction, so one caller's bad row cannot fail the others' sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ._pg_db import PostgresDatabase
from ._shared import cancel_and_wait
from .base import StoreUnavailable
from .postgres_messages import insert_messages
from .records import MessageRecord, NewMessage

log = logging.getLogger(__name__)

MAX_BATCH = 256  # callers per transaction: bounds one transaction's size and the wait of the last in it

_Pending = tuple[Sequence[NewMessage], "asyncio.Future[list[MessageRecord]]"]


class MailWriter:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self._queue: list[_Pending] = []
        self._queued = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def insert(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        """Store `messages` (and notify their recipients' nodes); returns once they are committed."""
        if not messages:
            return []
        done: asyncio.Future[list[MessageRecord]] = asyncio.get_running_loop().create_future()
        self._queue.append((messages, done))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pg-mail-writer")
        self._queued.set()
        return await done

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        queued, self._queue = self._queue, []
        _fail(queued, StoreUnavailable("the store is closed"))

    async def _run(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            stored = await self.db.write(lambda conn: insert_messages(conn, [m for ms, _ in batch for m in ms]))
        except StoreUnavailable as exc:  # no transaction can succeed now: every caller hears it
            _fail(batch, exc)
            return
        except Exception as exc:  # answered to the callers, never lost in the writer task
            if len(batch) == 1:
                _fail(batch, exc)
                return
            log.warning("a batch of %d sends failed (%s); retrying each on its own", len(batch), exc)
            for one in batch:
                await self._commit([one])
            return
        start = 0
        for messages, done in batch:
            if not done.done():  # its caller may have gone (cancelled): the rows stand, nobody to answer
                done.set_result(stored[start:start + len(messages)])
            start += len(messages)


def _fail(batch: list[_Pending], exc: BaseException) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(exc)
