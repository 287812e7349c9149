"""Wall-clock time and timers behind one small interface, so a test can move the day forward."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Cancel(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancel:
        """Run `callback` on the event loop once the clock reads `when` (epoch seconds)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancel:
        return asyncio.get_running_loop().call_later(max(0.0, when - time.time()), callback)
