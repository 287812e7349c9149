"""Coalescing change feeds: a subscriber learns *which* keys changed, never blocks the publisher, and a
slow subscriber sees the latest state of each key rather than every intermediate one."""

from __future__ import annotations

import asyncio


class ChangeSubscriber:
    def __init__(self, feed: ChangeFeed) -> None:
        self._feed = feed
        self._dirty: dict[str, None] = {}  # insertion-ordered set
        self._ready = asyncio.Event()

    def mark(self, key: str) -> None:
        self._dirty[key] = None
        self._ready.set()

    async def next_batch(self) -> list[str]:
        await self._ready.wait()
        self._ready.clear()
        batch = list(self._dirty)
        self._dirty.clear()
        return batch

    def close(self) -> None:
        self._feed.unsubscribe(self)


class ChangeFeed:
    def __init__(self) -> None:
        self._subscribers: set[ChangeSubscriber] = set()

    def subscribe(self) -> ChangeSubscriber:
        subscriber = ChangeSubscriber(self)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: ChangeSubscriber) -> None:
        self._subscribers.discard(subscriber)

    def changed(self, key: str) -> None:
        for subscriber in self._subscribers:
            subscriber.mark(key)
