"""Work a part runs beside what it answers, and ends when it closes.

asyncio keeps only a weak reference to a task, so its owner keeps the strong one until the task is done.
The work is given as a function and called inside the task: a task cancelled before it ever ran (its owner
closing) then leaves no coroutine that was never awaited, which Python reports at the next collection,
wherever that is. A failure the owner expects (the store unreachable: the next notification catches up)
is one warning line; any other failure is logged with its traceback at once, not whenever the task is
collected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


class Tasks:
    def __init__(self, log: logging.Logger, what: str, expected: tuple[type[Exception], ...] = ()) -> None:
        """`what`: the work, for the log lines ("node commands"); `expected`: failures worth one line."""
        self._log = log
        self._what = what
        self._expected = expected
        self._running: set[asyncio.Task[None]] = set()

    def spawn(self, work: Callable[[], Awaitable[None]], what: str | None = None) -> None:
        """`what`: this piece of work, for its task's name and log lines ("reminder 7")."""
        what = what or self._what
        task = asyncio.get_running_loop().create_task(self._run(work, what), name=what)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, work: Callable[[], Awaitable[None]], what: str) -> None:
        try:
            await work()
        except self._expected as exc:
            self._log.warning("%s: %s", what, exc)
        except Exception:
            self._log.exception("%s failed", what)

    def __len__(self) -> int:
        return len(self._running)

    async def settle(self) -> None:
        """Until nothing runs, including work the running work spawned."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what runs and wait for it to end."""
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
