"""`[tools] ask`: a matching call becomes a `tool_use` approval the operator answers; the real CLI waits on it
through the `permission_prompt` tool (issue 21)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hyperhive.agent.brain import brain_for
from hyperhive.agent.claude_driver import BrainConfig
from hyperhive.config import load_agent_config
from hyperhive.core.hive import Hive
from hyperhive.core.tool_rules import matching_rule
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi, ToolResult

from .loop_support import Watch, harness, send, settled

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
            await hive.approvals.approve(card["id"])
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
