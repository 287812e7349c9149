"""Coalescing change feeds: a subscriber learns *which* keys changed, never blocks the publisher, and a
slow subscriber sees the latest state of each key rather than every intermediate one."""

from __future__ import annotations

import asyncio


class ChangeSubscriber:
    def __init__(self, feed: ChangeFeed, counts: bool) -> None:
        self._feed = feed
        self.counts = counts  # told of changes to a row's counts only (mail, acks, turn stats) too
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

    def subscribe(self, counts: bool = True) -> ChangeSubscriber:
        """`counts=False`: only changes of an agent's record or state (what a lifecycle watcher follows), not
        the flood of its counts moving with every message."""
        subscriber = ChangeSubscriber(self, counts)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: ChangeSubscriber) -> None:
        self._subscribers.discard(subscriber)

    def changed(self, key: str) -> None:
        for subscriber in self._subscribers:
            subscriber.mark(key)

    def counts_changed(self, key: str) -> None:
        """Only the row's counts moved (unread mail, context size, cost): its record and state did not."""
        for subscriber in self._subscribers:
            if subscriber.counts:
                subscriber.mark(key)
