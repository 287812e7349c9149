"""A clock the test moves by hand (the gateway's budget windows and their reset timers run on it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Timer:
    when: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class ManualClock:
    at: float
    _timers: list[_Timer] = field(default_factory=list)

    def now(self) -> float:
        return self.at

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback)
        self._timers.append(timer)
        return timer

    def set(self, at: float) -> None:
        """Move to `at` and run, on the event loop, every timer that fell due."""
        self.at = at
        due = [t for t in self._timers if t.when <= at and not t.cancelled]
        self._timers = [t for t in self._timers if t not in due and not t.cancelled]
        loop = asyncio.get_running_loop()
        for timer in sorted(due, key=lambda t: t.when):
            loop.call_soon(timer.callback)
