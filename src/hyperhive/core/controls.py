"""Operator controls pushed to a running harness (interrupt, model, new session, compact).

A harness holds one `control_stream` connection; a control is delivered to every stream of that agent
at once. With no harness connected the control is refused with a sentence — a control that would fire
at some later turn is a surprise, not a feature.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from hyperhive.protocol import ErrorCode, HiveError
from hyperhive.protocol.replies import Control

QUEUE_LIMIT = 100


class Controls:
    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[Control]]] = defaultdict(set)
        self._opened: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def open(self, name: str) -> asyncio.Queue[Control]:
        queue: asyncio.Queue[Control] = asyncio.Queue(QUEUE_LIMIT)
        self._streams[name].add(queue)
        self._opened.pop(name, asyncio.Event()).set()
        return queue

    def opened(self, name: str) -> asyncio.Event:
        """The event the next stream of `name` to open sets (take it before checking `connected`)."""
        return self._opened[name]

    def close(self, name: str, queue: asyncio.Queue[Control]) -> None:
        self._streams[name].discard(queue)
        if not self._streams[name]:
            del self._streams[name]

    def connected(self, name: str) -> bool:
        return bool(self._streams.get(name))

    def push(self, name: str, control: Control) -> None:
        queues = self._streams.get(name)
        if not queues:
            raise HiveError(
                ErrorCode.CONFLICT, f"{name}'s harness is not connected, so it cannot take {control.control!r}"
            )
        for queue in queues:
            if queue.full():  # a harness that stopped reading controls gets the newest ones
                queue.get_nowait()
            queue.put_nowait(control)
