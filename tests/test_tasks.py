"""`hyperhive.tasks.Tasks`: the background work of a part (node commands, restarts, spend writes, timers)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hyperhive.store import StoreError
from hyperhive.tasks import Tasks

log = logging.getLogger("tests.tasks")


async def test_work_cancelled_before_it_ran_is_never_made() -> None:
    """Closing before the loop ran the task: the work's coroutine was never created, so none is left
    unawaited (Python's 'coroutine was never awaited' warning, raised by the suite's filterwarnings)."""
    made: list[str] = []

    async def work() -> None:
        await asyncio.Event().wait()

    tasks = Tasks(log, "claims")
    tasks.spawn(lambda: (made.append("work"), work())[1])
    await tasks.close()
    assert made == [] and len(tasks) == 0


async def test_settle_waits_for_work_the_work_spawned() -> None:
    tasks = Tasks(log, "chain")
    done: list[int] = []

    async def step(n: int) -> None:
        await asyncio.sleep(0)
        done.append(n)
        if n < 3:
            tasks.spawn(lambda: step(n + 1))

    tasks.spawn(lambda: step(0))
    await tasks.settle()
    assert done == [0, 1, 2, 3] and len(tasks) == 0


async def test_an_expected_failure_is_one_line_and_any_other_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    tasks = Tasks(log, "node commands", (StoreError,))

    async def unreachable() -> None:
        raise StoreError("the database is unreachable")

    async def broken() -> None:
        raise KeyError("agent")

    tasks.spawn(unreachable)
    tasks.spawn(broken, "restart of alice")
    await tasks.settle()
    lines = {r.getMessage(): r for r in caplog.records if r.name == "tests.tasks"}
    expected = lines["node commands: the database is unreachable"]
    assert expected.levelno == logging.WARNING and expected.exc_info is None
    other = lines["restart of alice failed"]
    assert other.levelno == logging.ERROR and other.exc_info is not None and other.exc_info[0] is KeyError


async def test_close_cancels_what_runs() -> None:
    tasks = Tasks(log, "waits")
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def wait() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    tasks.spawn(wait)
    await started.wait()
    await tasks.close()
    assert cancelled == [True] and len(tasks) == 0
