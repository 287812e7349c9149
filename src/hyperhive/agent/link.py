"""The harness's connections to its socket, riding out daemon restarts.

hive-c0re may restart (upgrade, crash, kill -9) while the agent keeps running; a call that finds the
socket gone waits for it to come back (woken by the socket being made again, see reconnect.py) instead of
failing the turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hyperhive.client import AsyncSocketClient, Unreachable
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol.fields import Request
from hyperhive.protocol.replies import Identity, Reply

from .reconnect import Reconnect

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R", bound=Reply)


class HiveLink:
    """One connection (requests on it are serialised); `hello` is re-sent on every reconnect."""

    def __init__(self, path: Path, role: str | None = None,
                 on_reconnect: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        self.path = path
        self.role = role
        self.on_reconnect = on_reconnect  # runs after a reconnect (not the first connect)
        self._connected_once = False
        self._restating: asyncio.Task[None] | None = None
        self.client = AsyncSocketClient(path)
        self.hello: Identity | None = None  # the hive's answer to `hello` (with a role)

    async def call(self, cmd: str, **fields: Any) -> dict[str, object]:
        """Like a request, but a missing daemon is waited for; errors from the hive still raise."""
        return await self._riding_out(lambda: self.client.request(cmd, **fields))

    async def verb(self, kind: type[Request[R]], **fields: Any) -> R:
        """`call` by the verb's request model, its reply read as its reply model (None fields not sent)."""
        return await self._riding_out(lambda: self.client.verb(kind, **fields))

    async def _riding_out(self, ask: Callable[[], Awaitable[T]]) -> T:
        reconnect = Reconnect(self.path)
        try:
            while True:
                try:
                    if not self.client.connected:
                        await self._connect()
                    return await ask()
                except Unreachable as exc:
                    log.info("hive unreachable (%s); waiting for it", exc.message)
                    await self.client.close()
                    await reconnect.pause()
        finally:
            reconnect.done()

    async def _connect(self) -> None:
        await self.client.close()  # a connection the hive hung up (a daemon restart) is closed, not dropped
        await self.client.connect()
        if self.role is not None:
            self.hello = await self.client.verb(rq.Hello, role=self.role)
        if self._connected_once and self.on_reconnect is not None:
            # Not awaited here: this link is in the middle of a call; keep a reference so it runs to its end.
            self._restating = asyncio.get_running_loop().create_task(self.on_reconnect())
        self._connected_once = True

    async def close(self) -> None:
        await self.client.close()
