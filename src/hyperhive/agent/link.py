"""The harness's connections to its socket, riding out daemon restarts.

hive-c0re may restart (upgrade, crash, kill -9) while the agent keeps running; a call that finds the
socket gone waits for it to come back (woken by the socket being made again, see reconnect.py) instead of
failing the turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hyperhive.client import AsyncSocketClient, Unreachable

from .reconnect import Reconnect

log = logging.getLogger(__name__)


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
        self.hello: dict[str, Any] = {}

    async def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Like a request, but a missing daemon is waited for; errors from the hive still raise."""
        reconnect = Reconnect(self.path)
        try:
            while True:
                try:
                    if not self.client.connected:
                        await self._connect()
                    return await self.client.request(cmd, **fields)
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
            self.hello = await self.client.request("hello", role=self.role)
        if self._connected_once and self.on_reconnect is not None:
            # Not awaited here: this link is in the middle of a call; keep a reference so it runs to its end.
            self._restating = asyncio.get_running_loop().create_task(self.on_reconnect())
        self._connected_once = True

    async def close(self) -> None:
        await self.client.close()
