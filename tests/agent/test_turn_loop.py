"""The turn loop's failure paths and controls, each on the real Claude CLI against the scripted API:
rate limits, a missing login, a prompt too long, a crashing CLI, interrupt and pause."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hyperhive.agent.loop import LoopTimings
from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

from .loop_support import Watch, harness, host, send, settled, unacked

pytestmark = pytest.mark.claude


async def test_rate_limit_backs_off_then_retries_once(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    """With an API key and CLAUDE_CODE_MAX_RETRIES=0 the CLI reports no reset time (see
    docs/claude-driver.md), so the configured back-off applies."""
    watch = Watch(hive)
    seen: list[str] = []
    changes = hive.registry.changes.subscribe()

    async def follow() -> None:
        while True:
            await changes.next_batch()
            activity = hive.registry.activity("alice")
            if activity:
                seen.append(activity[0])

    follower = asyncio.create_task(follow())
    with ScriptedApi() as api:
        api.script(reply.rate_limited(retry_after=2), reply.text("done after the wait"))
        async with harness(hive, api, claude_bin, short_tmp, LoopTimings(rate_limit_backoff=1.5)):
            await send(hive, "hello")
            ends = await watch.until(lambda: [e for e in watch.turn_ends() if e["ok"]])
            assert ends[0]["note"].startswith("done after the wait")
            assert "rate_limited" in seen
            starts = [e.at for e in watch.events if e.kind == "turn.turn_start"]
            assert len(starts) == 2 and starts[1] - starts[0] >= 1.4  # it waited, no tight loop
            assert len(api.message_requests) == 2  # no tight loop
            assert [e["kind"] for e in watch.turn_ends()] == ["rate_limited", "ok"]
            await settled(hive)
            assert await unacked(hive) == 0
    follower.cancel()
    changes.close()


async def test_auth_failure_waits_for_login_instead_of_burning_turns(hive: Hive, claude_bin: str,
                                                                    short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.auth_failed(), reply.auth_failed(), reply.text("logged in now"))
        async with harness(hive, api, claude_bin, short_tmp):
            await send(hive, "hello")
            await watch.until(lambda: (agent := hive.registry.get("alice")) and agent.needs_login)
            await asyncio.sleep(1.0)
            assert len(api.message_requests) == 2  # one retry, then it waits
            assert await unacked(hive) == 1  # the message is kept
            await asyncio.to_thread(host, hive, "logged_in", name="alice")
            await watch.until(lambda: [e for e in watch.turn_ends() if e["ok"]])
            await settled(hive)
            assert not hive.registry.require("alice").needs_login
            assert await unacked(hive) == 0


async def test_prompt_too_long_compacts_once_and_retries(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    """The CLI compacts a resumed session by itself when it can; with that off, the loop does it."""
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.on("<summary> block", reply.text("<summary>we talked about first</summary>"))  # the compaction
        api.on("second", reply.text("two"))
        api.on("first", reply.text("one"))
        async with harness(hive, api, claude_bin, short_tmp, DISABLE_AUTO_COMPACT="1"):
            await send(hive, "first")  # a session to compact
            await watch.until(lambda: len(watch.turn_ends()) == 1)
            api.script(reply.prompt_too_long())  # then the compaction and the retry answer by the rules
            await send(hive, "second")
            await watch.until(lambda: len(watch.turn_ends()) >= 3, timeout=90)
            assert [e["kind"] for e in watch.turn_ends()] == ["ok", "prompt_too_long", "ok"]
            await settled(hive)
            notes = [e.payload["text"] for e in watch.events if e.kind == "turn.note"]
            assert any("compacting the session: the prompt was too long" in n for n in notes)
            assert await unacked(hive) == 0


async def test_a_crashing_cli_is_retried_once_then_the_message_is_parked(hive: Hive, claude_bin: str,
                                                                        short_tmp: Path) -> None:
    watch = Watch(hive)
    release = threading.Event()
    with ScriptedApi() as api:
        api.script(reply.hang(release), reply.hang(release))
        async with harness(hive, api, claude_bin, short_tmp) as loop:
            message_id = await send(hive, "do something")
            for attempt in (1, 2):
                await asyncio.to_thread(api.wait_for_request, timeout=60, after=attempt - 1)
                pid = loop.driver.pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                await watch.until(lambda n=attempt: len(watch.turn_ends()) >= n)  # type: ignore[misc]
            ends = await watch.until(lambda: [e for e in watch.turn_ends() if e.get("parked")])
            assert ends[0]["kind"] == "crashed" and ends[0]["id"] == message_id
            await settled(hive)  # the park was reported (and its event delivered) before the loop went idle
            inbox = await hive.store.inbox_messages(OPERATOR, 10, unread_only=True)
            parked = [json.loads(m.body) for m in inbox if m.sender == "system"]
            assert parked[0]["event"] == "message_parked" and parked[0]["message_id"] == message_id
            assert await unacked(hive) == 0
        release.set()


async def test_interrupt_ends_the_turn_cleanly_and_pause_holds_new_turns(hive: Hive, claude_bin: str,
                                                                        short_tmp: Path) -> None:
    watch = Watch(hive)
    release = threading.Event()
    with ScriptedApi() as api:
        api.script(reply.hang(release))
        api.on("while paused", reply.text("resumed"))
        async with harness(hive, api, claude_bin, short_tmp) as loop:
            await send(hive, "think for a long time")
            await asyncio.to_thread(api.wait_for_request, timeout=60)
            started = time.monotonic()
            await asyncio.to_thread(host, hive, "interrupt", name="alice")
            ends = await watch.until(lambda: watch.turn_ends(), timeout=10)
            assert ends[0]["kind"] == "interrupted" and time.monotonic() - started < 5
            assert not loop.driver.running()
            await settled(hive)
            assert await unacked(hive) == 0
            release.set()
            await asyncio.to_thread(host, hive, "set_paused", name="alice", paused=True)
            await send(hive, "while paused")
            await asyncio.sleep(1.0)
            assert len(watch.turn_ends()) == 1 and await unacked(hive) == 1  # held, not lost
            await asyncio.to_thread(host, hive, "set_paused", name="alice", paused=False)
            await watch.until(lambda: len(watch.turn_ends()) == 2)
            assert watch.turn_ends()[1]["ok"] is True
