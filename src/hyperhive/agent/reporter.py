"""Live transcript events to the hive, batched: a turn streams many small lines, and one request per
line would tie the turn's speed to the socket's. At most one request is in flight; whatever arrives
meanwhile goes in the next batch, so order is kept and latency stays at one round trip."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import TypedDict

from hyperhive.protocol import HiveError

from .link import HiveLink

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_BYTES = 512 * 1024  # well under the socket's 1 MiB line limit
STRING_MAX = 16 * 1024  # a tool result with a whole file in it: the transcript keeps its head
QUEUE_MAX = 20_000  # a hive gone for long: drop the oldest stream lines rather than grow without bound


class Pending(TypedDict):
    """One transcript event as `report` takes it (protocol's ReportedEvent checks it on the hive's side)."""

    kind: str
    payload: dict[str, object]


class Reporter:
    def __init__(self, link: HiveLink) -> None:
        self.link = link
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reporter")

    def emit(self, kind: str, payload: Mapping[str, object]) -> None:
        if len(self._pending) >= QUEUE_MAX:
            del self._pending[0]
        self._pending.append({"kind": kind, "payload": {key: shrink(value) for key, value in payload.items()}})
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        await self._idle.wait()

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = take_batch(self._pending)
                try:
                    await self.link.call("report", events=batch)
                except HiveError as exc:  # a bad event must not stop the transcript
                    log.warning("the hive refused %d transcript events: %s", len(batch), exc.message)
            self._idle.set()


def take_batch(pending: list[Pending]) -> list[Pending]:
    """Remove and return the oldest events that fit in one request."""
    size = 0
    count = 0
    for event in pending[:BATCH_MAX]:
        size += len(json.dumps(event))
        if count and size > BATCH_BYTES:
            break
        count += 1
    batch = pending[:count]
    del pending[:count]
    return batch


def shrink(value: object) -> object:
    if isinstance(value, str):
        return value if len(value) <= STRING_MAX else value[:STRING_MAX] + f"… [{len(value) - STRING_MAX} more chars]"
    if isinstance(value, dict):
        return {k: shrink(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shrink(v) for v in value]
    return value
