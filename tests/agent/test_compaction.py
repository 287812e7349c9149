"""Proactive compaction (issue 15, item 9): once a turn's prompt passes the watermark of the model's
context, a notes turn, then `/compact`; the scripted API reports the large usage, the real CLI compacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.agent.brain import brain_for
from hyperhive.config import load_agent_config
from hyperhive.core.hive import Hive
from tests.support import api_replies as reply
from tests.support.scripted_api import ApiRequest, ScriptedApi, after_tool

from .loop_support import Watch, harness, send, settled

pytestmark = pytest.mark.claude
CONFIG = 'name = "alice"\n[compaction]\nwatermark_percent = 75\ncontext_tokens = 100000\n'
SUMMARY = "<summary>THE SUMMARY</summary>"


def is_checkpoint(req: ApiRequest) -> bool:
    return "will be compacted after this turn" in req.last_user_text


async def test_past_the_watermark_a_notes_turn_then_compact(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    brain = brain_for("alice", load_agent_config(CONFIG), hive.settings.agent_socket_dir("alice") / "mcp.sock")
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.on("small", reply.text("a small turn", input_tokens=1000, cache_read_tokens=70_000))  # 71 %: below
        api.on("big", reply.text("a big turn", input_tokens=2000, cache_read_tokens=76_000))  # 78 %: past it
        api.on(is_checkpoint, reply.tool_use("Write", {"file_path": str(short_tmp / "alice" / "NOTES.md"),
                                                       "content": "open: the big job\n"}), repeat=False)
        # the notes turn ends once the Write's result is in (a tool-result request: no text to match on)
        api.on(after_tool("Write"), reply.text("noted"), repeat=False)
        api.on(lambda req: "summary" in req.last_user_text.lower(), reply.text(SUMMARY))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain):
            await send(hive, "a small job")
            await watch.until(lambda: len(watch.turn_ends()) == 1)
            await settled(hive)
            assert not any(is_checkpoint(r) for r in api.message_requests)
            await send(hive, "a big job")
            await watch.until(lambda: any("compact: ok" in str(e.payload) for e in watch.events))
            await settled(hive)
            api.on("after", reply.text("fresh"))
            await send(hive, "after the compaction")
            await watch.until(lambda: len(watch.turn_ends()) == 3)
        requests = api.message_requests
    assert (short_tmp / "alice" / "NOTES.md").read_text() == "open: the big job\n"
    checkpoint = next(i for i, r in enumerate(requests) if is_checkpoint(r))
    assert "78% of the model's context" in requests[checkpoint].last_user_text
    history = requests[-1].all_text
    assert "THE SUMMARY" in history and "a big job" not in history  # compacted after the notes turn
    notes = [e.payload["text"] for e in watch.events if e.kind == "turn.note"]
    assert any("78% of the context: a notes turn, then compacting" in n for n in notes)
