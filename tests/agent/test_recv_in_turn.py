"""Mail the model pulls with the `recv` tool inside a turn is acked when the turn ends, and comes back if
the turn dies (issue 15, item 8): the real CLI calls the real `hyperhive` MCP server on the scripted API."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

from .loop_support import Watch, harness, send, settled, unacked

pytestmark = pytest.mark.claude
RECV = "mcp__hyperhive__recv"


def pulled(api: ScriptedApi, message_id: int) -> bool:
    """The model got message #id back from its recv call (in the request after the tool ran)."""
    return any(f"#{message_id} from operator" in str(r.content) for req in api.message_requests
               for r in req.tool_results if r.name == RECV)


async def test_mail_pulled_in_a_turn_is_acked_when_the_turn_ends(hive: Hive, claude_bin: str,
                                                                short_tmp: Path) -> None:
    watch = Watch(hive)
    release = threading.Event()
    with ScriptedApi() as api:
        api.script(reply.tool_use(RECV, {"wait_seconds": 0}), reply.hang(release, reply.text("read both")))
        async with harness(hive, api, claude_bin, short_tmp):
            first = await send(hive, "the turn's own message")
            second = await send(hive, "pulled by the model")
            await asyncio.to_thread(api.wait_for_request, timeout=60, after=1)  # recv has returned
            assert pulled(api, second)
            assert await unacked(hive) == 2  # read, but the turn has not ended: not handled yet
            release.set()
            await watch.until(lambda: watch.turn_ends())
            await settled(hive)
            assert await unacked(hive) == 0
            starts = [e.payload["id"] for e in watch.events if e.kind == "turn.turn_start"]
            assert starts == [first]  # the pulled one got no turn of its own


async def test_mail_pulled_in_a_turn_that_crashes_is_delivered_again(hive: Hive, claude_bin: str,
                                                                    short_tmp: Path) -> None:
    watch = Watch(hive)
    release = threading.Event()
    with ScriptedApi() as api:
        api.script(reply.tool_use(RECV, {"wait_seconds": 0}), reply.hang(release),
                   reply.text("retried"), reply.text("handled the second"))
        async with harness(hive, api, claude_bin, short_tmp) as loop:
            first = await send(hive, "the turn's own message")
            second = await send(hive, "pulled, then the turn dies")
            await asyncio.to_thread(api.wait_for_request, timeout=60, after=1)
            assert pulled(api, second)
            pid = loop.driver.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await watch.until(lambda: len([e for e in watch.turn_ends() if e["ok"]]) == 2)
            await settled(hive)
            starts = [e.payload["id"] for e in watch.events if e.kind == "turn.turn_start"]
            assert starts == [first, first, second]  # crashed, retried, then the pulled one came back
            assert [e["kind"] for e in watch.turn_ends()] == ["crashed", "ok", "ok"]
            assert await unacked(hive) == 0
        release.set()
