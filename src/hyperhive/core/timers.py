"""Due-time timers: one event-loop timer per pending item, so asyncio's own heap is the scheduler and
nothing wakes up to look. Times are wall-clock (they come from the store and survive restarts); a time
already past fires on the next loop turn, which is how what fell due during downtime is delivered."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from hyperhive.tasks import Tasks

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)


class DueTimers(Generic[K]):
    def __init__(self, fire: Callable[[K], Awaitable[None]], name: str) -> None:
        self._fire = fire
        self._name = name
        self._handles: dict[K, asyncio.TimerHandle] = {}
        self._tasks = Tasks(log, name)  # one broken item does not stop the others; it stays pending in the store

    def arm(self, key: K, due_at: float) -> None:
        self.disarm(key)
        loop = asyncio.get_running_loop()
        self._handles[key] = loop.call_later(max(0.0, due_at - time.time()), self._spawn, key)

    def disarm(self, key: K) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def __len__(self) -> int:
        return len(self._handles)

    def _spawn(self, key: K) -> None:
        self._handles.pop(key, None)
        self._tasks.spawn(functools.partial(self._fire, key), f"{self._name} {key}")

    async def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        await self._tasks.settle()

    async def settle(self) -> None:
        """Until the firings started have ended."""
        await self._tasks.settle()
