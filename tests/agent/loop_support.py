"""The turn loop as tests drive it: a TurnLoop on the real CLI against the scripted API, in-process with a
real hive, and the transcript events it reports, awaited by condition."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hyperhive.agent.brain import brain_for
from hyperhive.agent.claude_driver import BrainConfig
from hyperhive.agent.loop import LoopTimings, TurnLoop
from hyperhive.agent.resident import driver_for
from hyperhive.client import SocketClient
from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from hyperhive.store import AgentRecord, EventRecord
from tests.support.scripted_api import ScriptedApi

FAST = LoopTimings(turn_timeout=60, rate_limit_backoff=0.5, rate_limit_max=2, login_retry=30)


class Watch:
    """Transcript events as the hive stores them, awaited by condition (pushed, never polled)."""

    def __init__(self, hive: Hive) -> None:
        self.events: list[EventRecord] = []
        self._changed = asyncio.Event()
        hive.events.listen(self._add)

    def _add(self, events: list[EventRecord]) -> None:
        self.events.extend(events)
        self._changed.set()

    def kinds(self, agent: str = "alice") -> list[str]:
        return [e.kind for e in self.events if e.agent == agent]

    def turn_ends(self) -> list[dict[str, Any]]:
        return [e.payload for e in self.events if e.kind == "turn.turn_end"]

    async def until(self, check: Callable[[], Any], timeout: float = 60) -> Any:
        try:
            async with asyncio.timeout(timeout):
                while not (found := check()):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = [(e.kind, e.payload) for e in self.events if e.kind in ("turn.turn_end", "turn.note")]
            raise AssertionError(f"condition not met within {timeout} s; transcript so far: {seen}") from None
        return found


@asynccontextmanager
async def harness(hive: Hive, api: ScriptedApi, claude_bin: str, tmp: Path,
                  timings: LoopTimings = FAST, brain: BrainConfig | None = None,
                  **extra_env: str) -> AsyncIterator[TurnLoop]:
    await hive.registry.add(AgentRecord(name="alice", kind="managed", created_at=0.0))
    await hive.agent_sockets.open("alice")
    socket = hive.settings.agent_socket_dir("alice") / "mcp.sock"
    brain = brain or brain_for("alice", None, socket)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "CLAUDE_CODE_MAX_RETRIES": "0", **api.env(), **extra_env}
    # The driver the harness would pick (HYPERHIVE_CLAUDE_PROCESS in the test's environment selects the other).
    driver = driver_for(Path(claude_bin), tmp / "alice", brain, env, os.environ)
    loop = TurnLoop(socket, driver, brain, tmp / "alice", timings)
    task = asyncio.create_task(loop.run())
    try:
        yield loop
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def send(hive: Hive, body: str) -> int:
    return (await hive.broker.send(OPERATOR, "alice", body))[0].id


async def unacked(hive: Hive) -> int:
    return await hive.store.count_unacked("alice")


async def settled(hive: Hive) -> None:
    """Until the loop says it is idle again (after its ack), by the registry's change feed."""
    changes = hive.registry.changes.subscribe()
    try:
        async with asyncio.timeout(30):
            while hive.registry.activity("alice") != ("idle", None):
                await changes.next_batch()
    finally:
        changes.close()


def host(hive: Hive, cmd: str, **fields: Any) -> dict[str, Any]:
    return SocketClient(hive.settings.host_socket).request(cmd, **fields)
