"""Removing images nobody uses: an image no deployed or pending config needs is marked unused, and
removed once it has been unused for host.toml's `image_grace_hours`. Runs on a timer (at start, then at
the next expiry or one grace period later, whichever comes first), never by polling; an image is renamed
away before it is deleted, so a sandbox never starts on half of one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable

from .service import IMAGE_DIR_ENV, ImageService
from .store import ImageStore

log = logging.getLogger(__name__)
InUse = Callable[[], Awaitable[set[str]]]
MIN_DELAY = 60.0  # a grace of zero must not spin


def collect(store: ImageStore, in_use: set[str], building: set[str], grace: float,
            now: float) -> tuple[list[str], float | None]:
    """Remove what has been unused for `grace` seconds; return the removed ids and the next expiry."""
    removed: list[str] = []
    next_expiry: float | None = None
    for info in store.all():
        if info.image_id in building:
            continue
        since = store.unused_since(info.image_id, now, info.image_id in in_use)
        if since is None:
            continue
        if since + grace <= now:
            store.remove(info.image_id)
            removed.append(info.image_id)
        else:
            next_expiry = since + grace if next_expiry is None else min(next_expiry, since + grace)
    return removed, next_expiry


class ImageCollector:
    def __init__(self, images: ImageService, in_use: InUse) -> None:
        self.images = images
        self.in_use = in_use
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # An image dir handed in through HYPERHIVE_IMAGE_DIR may be shared by several hives (the tests'
        # per-machine cache): one hive cannot know what the others run, so it collects nothing there.
        if self.images.enabled and IMAGE_DIR_ENV not in os.environ:
            self._task = asyncio.create_task(self._run(), name="image-gc")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> tuple[list[str], float]:
        """One collection; returns the removed ids and how long until the next one is due."""
        policy = await self.images.policy()
        store = await self.images.store(policy)
        grace = policy.image_grace_hours * 3600
        in_use = await self.in_use()
        now = time.time()
        removed, expiry = await asyncio.to_thread(collect, store, in_use, set(self.images.building()), grace, now)
        for image_id in removed:
            log.info("removed image %s (unused for %g h)", image_id, policy.image_grace_hours)
        delay = grace if expiry is None else min(grace, expiry - now)
        return removed, max(delay, MIN_DELAY)

    async def _run(self) -> None:
        while True:
            try:
                _removed, delay = await self.run_once()
            except Exception:  # a failed collection must not end the timer
                log.exception("image collection failed")
                delay = 3600.0
            await asyncio.sleep(delay)  # a timer to the next expiry, not a poll of the images
