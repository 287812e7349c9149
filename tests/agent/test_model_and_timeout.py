"""Two turn-loop promises on the real Claude CLI against the scripted API: a model switch from the operator
reaches the very next API request's `model`, and a turn that hangs past the turn timeout
(`hive-ag3nt run --turn-timeout`, LoopTimings.turn_timeout) is cut, retried once, then parked."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from hyperhive.agent.loop import LoopTimings
from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from tests.agent.loop_support import FAST, Watch, harness, send, settled, unacked
from tests.support import api_replies as reply
from tests.support.agents import host
from tests.support.scripted_api import ScriptedApi

pytestmark = pytest.mark.claude


async def test_a_model_switch_shows_in_the_next_api_request(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    watch = Watch(hive)
    release = threading.Event()
    with ScriptedApi() as api:
        api.script(reply.hang(release, reply.text("one")))
        api.on("second", reply.text("two"))
        async with harness(hive, api, claude_bin, short_tmp):
            await send(hive, "first")
            first = await asyncio.to_thread(api.wait_for_request, timeout=60)
            assert first.model != "claude-haiku-4-5"
            # Switched while the first turn is still held: the control reaches the harness during that turn.
            await host(hive, "set_model", name="alice", model="claude-haiku-4-5")
            await send(hive, "second")
            release.set()
            await watch.until(lambda: len([e for e in watch.turn_ends() if e["ok"]]) == 2)
            second = [r for r in api.message_requests if r.last_user_text.endswith("second")]
            assert [r.model for r in second] == ["claude-haiku-4-5"], [(r.model, r.last_user_text[-20:])
                                                                       for r in api.message_requests]
            starts = [e.payload for e in watch.events if e.kind == "turn.turn_start"]
            assert [s["model"] for s in starts] == [first.model, "claude-haiku-4-5"]  # the transcript says so
            await settled(hive)


async def test_a_turn_hanging_past_the_timeout_is_cut_retried_once_and_parked(hive: Hive, claude_bin: str,
                                                                             short_tmp: Path) -> None:
    watch = Watch(hive)
    never = threading.Event()  # the API never answers (the server releases it when it closes)
    with ScriptedApi() as api:
        api.script(reply.hang(never), reply.hang(never))
        async with harness(hive, api, claude_bin, short_tmp, LoopTimings(**{**FAST.__dict__, "turn_timeout": 5})):
            message_id = await send(hive, "this will hang")
            ends = await watch.until(lambda: [e for e in watch.turn_ends() if e.get("parked")], timeout=90)
            assert (ends[0]["kind"], ends[0]["id"]) == ("timeout", message_id)
            # two cut attempts (the first kept in hand and retried), then the park
            assert [(e["kind"], bool(e.get("parked"))) for e in watch.turn_ends()] == [
                ("timeout", False), ("timeout", False), ("timeout", True)]
            # No third try. (How far each attempt got before the cut depends on how fast the CLI starts.)
            assert len(api.message_requests) <= 2
            await settled(hive)
            assert await unacked(hive) == 0  # parked: acked, not retried forever
            told = [json.loads(m.body) for m in await hive.store.inbox_messages(OPERATOR, 10, unread_only=True)
                    if m.sender == "system"]
            assert [(e["event"], e["message_id"]) for e in told] == [("message_parked", message_id)]
