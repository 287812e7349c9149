"""`[tools] ask`: a matching call becomes a `tool_use` approval the operator answers; the real CLI waits on it
through the `permission_prompt` tool (issue 21)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hyperhive.agent.brain import brain_for
from hyperhive.agent.claude_driver import BrainConfig
from hyperhive.agent.loop import TurnLoop
from hyperhive.agent.resident import driver_for
from hyperhive.config import load_agent_config
from hyperhive.core.hive import Hive
from hyperhive.core.tool_rules import matching_rule
from hyperhive.protocol import HiveError
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.scripted_api import ScriptedApi, ToolResult

from .loop_support import FAST, Watch, harness, host, send, settled
from .test_reconnect import control_stream_up

TOUCH = {"command": "touch x", "description": "make x"}


def brain(hive: Hive, ask: str = '["Bash"]', timeout: float = 120) -> BrainConfig:
    cfg = load_agent_config(f'name = "alice"\n[tools]\nask = {ask}\nask_timeout_seconds = {timeout}\n')
    return brain_for("alice", cfg, hive.settings.agent_socket_dir("alice") / "mcp.sock")


def prompts(watch: Watch, status: str = "pending") -> list[dict[str, Any]]:
    return [e.payload for e in watch.events
            if e.kind in ("approval_requested", "approval_updated") and e.payload["kind"] == "tool_use"
            and e.payload["status"] == status]


def bash_results(api: ScriptedApi) -> list[ToolResult]:
    return [r for req in api.message_requests for r in req.tool_results if r.name == "Bash"]


def test_rules_match_as_claude_code_does() -> None:
    assert matching_rule(["Bash"], "Bash", TOUCH) == "Bash"
    assert matching_rule(["Bash(git push:*)"], "Bash", {"command": "git push origin main"}) == "Bash(git push:*)"
    assert matching_rule(["Bash(git push:*)"], "Bash", {"command": "git pushy"}) is None
    assert matching_rule(["WebFetch(domain:example.com)"], "WebFetch", {"url": "https://a.example.com/x"})
    assert matching_rule(["WebFetch"], "Bash", TOUCH) is None


@pytest.mark.claude
async def test_an_approved_call_runs_once(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", TOUCH), reply.text("made x"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain(hive)):
            message = await send(hive, "make x")
            card = (await watch.until(lambda: prompts(watch)))[0]
            assert card["agent"] == "alice" and card["description"] == "Bash: touch x"
            assert card["details"]["input"] == TOUCH and card["details"]["rule"] == "Bash"
            assert card["details"]["message_id"] == message
            assert not (short_tmp / "alice" / "x").exists()  # it waits for the operator
            approved_at = time.monotonic()
            await hive.approvals.approve(card["id"])
            await asyncio.to_thread(api.wait_for_request, lambda r: bool(r.tool_results), 30)
            print(f"approve → the tool's result at the model: {(time.monotonic() - approved_at) * 1000:.0f} ms")
            ends = await watch.until(lambda: watch.turn_ends())
            await settled(hive)
        results = bash_results(api)
    assert ends[0]["ok"] is True and ends[0]["note"] == "made x"
    assert (short_tmp / "alice" / "x").exists()
    assert [r.is_error for r in results] == [False]
    stored = await hive.store.get_approval(card["id"])
    assert stored is not None and stored.status == "approved" and stored.done_at is not None


@pytest.mark.claude
async def test_a_denied_call_gives_the_model_the_note(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", TOUCH), reply.text("understood"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain(hive)):
            await send(hive, "make x")
            card = (await watch.until(lambda: prompts(watch)))[0]
            await hive.approvals.deny(card["id"], "not in this directory, please")
            ends = await watch.until(lambda: watch.turn_ends())
        results = bash_results(api)
    assert ends[0]["ok"] is True
    assert not (short_tmp / "alice" / "x").exists()
    assert len(results) == 1 and results[0].is_error
    assert "not in this directory, please" in str(results[0].content)


@pytest.mark.claude
async def test_no_answer_in_time_is_a_denial_that_says_so(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", TOUCH), reply.text("gave up"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain(hive, timeout=2)):
            await send(hive, "make x")
            await watch.until(lambda: watch.turn_ends())
        results = bash_results(api)
    denied = prompts(watch, "denied")
    assert len(denied) == 1 and "within 2 s" in denied[0]["note"]
    assert not (short_tmp / "alice" / "x").exists()
    assert results[0].is_error and "No answer from the operator within 2 s" in str(results[0].content)


@pytest.mark.claude
async def test_a_call_no_rule_names_is_refused_without_asking(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("WebFetch", {"url": "http://127.0.0.1:9/", "prompt": "read"}), reply.text("ok"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain(hive)):
            await send(hive, "fetch")
            await watch.until(lambda: watch.turn_ends())
        results = [r for req in api.message_requests for r in req.tool_results]
    assert results[0].is_error and not prompts(watch)


@pytest.mark.claude
async def test_an_interrupt_cancels_the_prompt(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", TOUCH), reply.text("never"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain(hive)):
            await send(hive, "make x")
            card = (await watch.until(lambda: prompts(watch)))[0]
            await control_stream_up(hive)
            await asyncio.to_thread(host, hive, "interrupt", name="alice")
            ends = await watch.until(lambda: watch.turn_ends())
            cancelled = await watch.until(lambda: prompts(watch, "cancelled"))
    assert ends[0]["kind"] == "interrupted"
    assert cancelled[0]["id"] == card["id"] and "before the operator answered" in cancelled[0]["note"]
    with pytest.raises(HiveError, match="already cancelled"):
        await hive.approvals.approve(card["id"])  # the card can run nothing any more
    assert not (short_tmp / "alice" / "x").exists()


@pytest.mark.claude
async def test_a_harness_that_goes_away_leaves_no_card_that_can_run(hive: Hive, claude_bin: str,
                                                                    short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", TOUCH), reply.text("never"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain(hive)):
            await send(hive, "make x")
            card = (await watch.until(lambda: prompts(watch)))[0]
        cancelled = await watch.until(lambda: prompts(watch, "cancelled"))
    assert cancelled[0]["id"] == card["id"]
    assert hive.approvals.pending_count("alice") == 0


def pending_cards(daemon: HiveProcess) -> list[dict[str, Any]]:
    found = daemon.host.request("pending", status="pending")["approvals"]
    return [a for a in found if a["kind"] == "tool_use"]


@pytest.mark.claude
async def test_a_daemon_kill9_mid_wait_keeps_the_prompt_and_runs_it_once(hive_proc: HiveProcess, claude_bin: str,
                                                                         short_tmp: Path) -> None:
    await asyncio.to_thread(hive_proc.host.request, "register_peer", name="alice")
    socket = hive_proc.agent_socket("alice")
    cfg = load_agent_config('name = "alice"\n[tools]\nask = ["Bash"]\n')
    home = short_tmp / "alice"
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", TOUCH), reply.text("made x after the restart"))
        env = {"PATH": os.environ["PATH"], "HOME": str(short_tmp), "CLAUDE_CODE_MAX_RETRIES": "0", **api.env()}
        brain = brain_for("alice", cfg, socket)
        loop = TurnLoop(socket, driver_for(Path(claude_bin), home, brain, env, os.environ), brain, home, FAST)
        task = asyncio.create_task(loop.run())
        try:
            await asyncio.to_thread(hive_proc.host.request, "send", to="alice", body="make x")
            card = (await asyncio.to_thread(wait_for, lambda: pending_cards(hive_proc), 60))[0]
            await asyncio.to_thread(hive_proc.kill9)
            await asyncio.to_thread(hive_proc.start)
            after = await asyncio.to_thread(pending_cards, hive_proc)
            assert [a["id"] for a in after] == [card["id"]]  # kept; nothing was run meanwhile
            assert not (home / "x").exists()
            await asyncio.to_thread(hive_proc.host.request, "approve", id=card["id"])
            await asyncio.to_thread(wait_for, lambda: len(api.message_requests) >= 2, 60)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        results = bash_results(api)
    assert (home / "x").exists()
    assert [r.is_error for r in results] == [False]  # run once, and the model saw its result
    rows = (await asyncio.to_thread(hive_proc.host.request, "pending", status=None))["approvals"]
    assert [(a["id"], a["status"]) for a in rows if a["kind"] == "tool_use"] == [(card["id"], "approved")]
