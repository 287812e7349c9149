"""Putting the harness together: who am I (asked of the hive), what may my brain do (from my config),
then the turn loop until SIGTERM. SIGTERM lets the running turn finish; the supervisor's stop timeout
is the bound on that."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from pathlib import Path

from hyperhive.config import load_agent_config
from hyperhive.protocol import agent_requests as rq

from .brain import brain_for
from .link import HiveLink
from .loop import LoopTimings, TurnLoop
from .resident import driver_for

log = logging.getLogger(__name__)

# The harness's own variables are not the brain's business.
PRIVATE_ENV_PREFIXES = ("HYPERHIVE_",)


async def run_harness(socket: Path, state_dir: Path, config_path: Path | None, claude_bin: Path,
                      environ: Mapping[str, str], timings: LoopTimings) -> None:
    link = HiveLink(socket)
    me = await link.verb(rq.Whoami)
    await link.close()
    config = load_agent_config(config_path.read_text(), expected_name=me.name) if config_path else None
    brain = brain_for(me.name, config, socket)
    base_env = {k: v for k, v in environ.items() if not k.startswith(PRIVATE_ENV_PREFIXES)}
    driver = driver_for(claude_bin, state_dir, brain, base_env, environ)  # resident or per-turn: a setting
    loop = TurnLoop(socket, driver, brain, state_dir, timings)
    task = asyncio.create_task(loop.run())
    stopping = asyncio.Event()
    running = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(sig, stopping.set)
    stop_wait = asyncio.create_task(stopping.wait())
    await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if stopping.is_set() and not task.done():
        log.info("stopping: the running turn may finish")
        await loop.stop_after_turn()
    stop_wait.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
