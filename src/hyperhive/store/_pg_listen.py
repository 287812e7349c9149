"""Push between nodes: NOTIFY in the writing transaction, LISTEN on a connection of its own.

A message insert runs `pg_notify('hive_mail', recipient)` in its own transaction, so the notification goes
out exactly when the mail is committed. Each node keeps one listening connection. On every (re)connect it
LISTENs *first* and only then catches up (its `on_connect` callback re-reads what is pending), so a
notification sent while it was disconnected is covered by the catch-up, and one sent during the catch-up
arrives as a notification: nothing falls between the two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

from ._pg_db import CONNECT_OPTIONS
from ._shared import cancel_and_wait

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 0.05, 2.0  # seconds between reconnect attempts: doubling, capped


class Listener:
    """Calls `on_notify(channel, payload)` for each notification on `channels`, and `on_connect()` after every
    (re)connect once LISTEN is in place."""

    def __init__(self, url: str, channels: tuple[str, ...], on_notify: Callable[[str, str], None],
                 on_connect: Callable[[], Awaitable[None]]) -> None:
        self.url = url
        self.channels = channels
        self.on_notify = on_notify
        self.on_connect = on_connect
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-listen")

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                await self._listen_once()
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("database listener disconnected (%s); reconnecting in %.2f s", exc, delay)
            self.connected.clear()
            await asyncio.sleep(delay)  # a timed reconnect back-off, not a poll: mail still arrives by push
            delay = min(delay * 2, RETRY_MAX)

    async def _listen_once(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True, **CONNECT_OPTIONS) as conn:
            for channel in self.channels:
                await conn.execute(f"LISTEN {channel}")  # channel names are this module's constants
            await self.on_connect()  # after LISTEN: what was sent meanwhile is caught up, what comes now is told
            self.connected.set()
            async for notify in conn.notifies():
                self.on_notify(notify.channel, notify.payload)
