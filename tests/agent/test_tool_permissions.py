"""`[tools] allow / deny` in agent.toml reach the real CLI as permission rules: a denied call is refused,
the model is told, and the turn carries on (issue 15, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperhive.agent.brain import brain_for
from hyperhive.config import ConfigError, load_agent_config
from hyperhive.core.hive import Hive
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

from .loop_support import Watch, harness, send, settled

BASE = 'name = "alice"\n'


def tools_config(text: str) -> str:
    return BASE + "[tools]\n" + text


@pytest.mark.parametrize(("line", "says"), [
    ('deny = ["Bash(git push:*"]', "not a permission rule"),
    ('deny = ["Curl"]', "not one of Claude Code's built-in tools"),
    ('allow = ["mcp__hyperhive"]', "not a permission rule"),
    ('allow = ["Bash()"]', "1 to 500 characters"),
    ('deny = ["WebFetch", "WebFetch"]', "listed twice"),
    ('ask = ["Curl"]', "not one of Claude Code's built-in tools"),
])
def test_bad_rules_are_refused_with_the_key_named(line: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_agent_config(tools_config(line))
    assert "tools." in str(caught.value) and says in str(caught.value)


def test_rules_become_the_turns_permissions(tmp_path: Path) -> None:
    default = brain_for("alice", load_agent_config(BASE), tmp_path / "mcp.sock")
    assert "Bash" in default.allowed_tools and default.denied_tools == []
    cfg = load_agent_config(tools_config('allow = ["Read", "Bash(git *)"]\ndeny = ["Bash(git push:*)", "WebFetch"]'))
    brain = brain_for("alice", cfg, tmp_path / "mcp.sock")
    assert brain.allowed_tools == ["mcp__hyperhive", "Read", "Bash(git *)"]
    assert brain.denied_tools == ["Bash(git push:*)", "WebFetch"]


@pytest.mark.claude
async def test_a_denied_call_is_refused_and_the_turn_goes_on(hive: Hive, claude_bin: str, short_tmp: Path) -> None:
    home = short_tmp / "alice"
    cfg = load_agent_config(tools_config('deny = ["Bash(touch:*)", "WebFetch"]'))
    brain = brain_for("alice", cfg, hive.settings.agent_socket_dir("alice") / "mcp.sock")
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.tool_use("Bash", {"command": "echo fine > allowed.txt"}),
                   reply.tool_use("Bash", {"command": "touch denied.txt"}),
                   reply.tool_use("WebFetch", {"url": "http://127.0.0.1:9/", "prompt": "read it"}),
                   reply.text("carried on after the refusals"))
        async with harness(hive, api, claude_bin, short_tmp, brain=brain):
            await send(hive, "use your tools")
            ends = await watch.until(lambda: watch.turn_ends())
            await settled(hive)
        results = [r for req in api.message_requests for r in req.tool_results]
    assert ends[0]["ok"] is True and ends[0]["note"] == "carried on after the refusals"
    assert (home / "allowed.txt").read_text() == "fine\n"
    assert not (home / "denied.txt").exists()
    assert [r.is_error for r in results] == [False, True, True]
    print("refusals the model read:", [str(r.content)[:120] for r in results[1:]])
    stats = next(e.payload for e in watch.events if e.kind == "turn.turn_stats")
    assert "Bash" in stats["permission_denials"]
    settings = json.loads((home / ".hive" / "settings.json").read_text())
    assert settings["permissions"]["deny"] == ["Bash(touch:*)", "WebFetch"]
