"""Due-time timers: one event-loop timer per pending item, so asyncio's own heap is the scheduler and
nothing wakes up to look. Times are wall-clock (they come from the store and survive restarts); a time
already past fires on the next loop turn, which is how what fell due during downtime is delivered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)


class DueTimers(Generic[K]):
    def __init__(self, fire: Callable[[K], Awaitable[None]], name: str) -> None:
        self._fire = fire
        self._name = name
        self._handles: dict[K, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

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
        task = asyncio.get_running_loop().create_task(self._run(key), name=f"{self._name}:{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: K) -> None:
        try:
            await self._fire(key)
        except Exception:  # one broken item must not stop the others; it stays pending in the store
            log.exception("%s %s failed to fire", self._name, key)

    async def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
