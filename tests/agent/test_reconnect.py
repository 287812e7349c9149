"""The harness while hive-c0re is down: its connections wait for the socket to be made again (inotify),
with a capped back-off in between, instead of retrying ten times a second (issue 15, item 17)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

from .loop_support import Watch, harness, send, settled

pytestmark = pytest.mark.claude
DOWN_FOR = 3.0  # seconds the daemon's agent socket stays dead (a stale socket file: connect is refused)


async def control_stream_up(hive: Hive) -> None:
    opened = hive.controls.opened("alice")
    if not hive.controls.connected("alice"):
        async with asyncio.timeout(30):
            await opened.wait()


async def test_a_daemon_that_is_down_is_waited_for_not_hammered(hive: Hive, claude_bin: str,
                                                                short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.on("after the outage", reply.text("back"))
        async with harness(hive, api, claude_bin, short_tmp) as loop:
            await control_stream_up(hive)
            await settled(hive)
            before = loop.control_attempts
            await hive.agent_sockets.close_all()  # as a kill -9 leaves it: the socket file, nobody listening
            await asyncio.sleep(DOWN_FOR)  # the outage itself: what is measured is what the harness did in it
            attempts = loop.control_attempts - before
            opened = hive.controls.opened("alice")
            started = time.monotonic()
            await hive.agent_sockets.open("alice")
            async with asyncio.timeout(10):
                await opened.wait()
            latency = time.monotonic() - started
            print(f"control_stream attempts in {DOWN_FOR} s down: {attempts}; reconnected {latency * 1000:.0f} ms "
                  "after the socket was made")
            # The old loop tried every 0.1 s (30 here); the back-off alone would next try ~0.75 s after.
            assert attempts <= 6
            assert latency < 0.3
            await send(hive, "after the outage")  # the mail link is back as well
            ends = await watch.until(lambda: watch.turn_ends())
            assert ends[0]["ok"] is True
