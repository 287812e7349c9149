"""The hive end to end: a real hive-c0re, two managed agents each running `hive-ag3nt run` on the real
Claude Code CLI against the scripted Messages API. The operator writes to alice; alice's turn calls
`send` to bob; bob's turn replies to the operator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, all_acked, replies_from, wait_for
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = pytest.mark.claude

AGENT_TOML = """name = "{name}"
description = "{name}, a test agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = {recipients}
network = "{network}"
[restart]
delay_seconds = 0.5
stop_timeout_seconds = 10
"""
SEND = "mcp__hyperhive__send"


@pytest.fixture(params=["process", "bwrap", "bwrap-proxy"])
def hive_with_api(request: pytest.FixtureRequest, short_tmp: Path, claude_bin: str) -> Iterator[
        tuple[HiveProcess, ScriptedApi, str]]:
    """process: no sandbox, the API over TCP. bwrap: a private network, the API through a Unix socket the
    test serves. bwrap-proxy: a private network, the API over TCP reached through hive-c0re's API proxy."""
    runtime = request.param.split("-")[0]
    own_socket = request.param == "bwrap"
    (short_tmp / "api").mkdir()
    with ScriptedApi(unix_socket=short_tmp / "api" / "api.sock" if own_socket else None) as api:
        env = {"HYPERHIVE_RUNTIME": runtime, "HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
               **(api.unix_env() if own_socket else api.env())}
        (short_tmp / "hive").mkdir()
        hive = HiveProcess(short_tmp / "hive", env=env)
        hive.start()
        try:
            yield hive, api, "private" if runtime == "bwrap" else "host"
        finally:
            hive.stop()


def spawn(hive: HiveProcess, name: str, recipients: list[str], network: str) -> None:
    hive.host.request("spawn", name=name, config=AGENT_TOML.format(name=name, recipients=json.dumps(recipients),
                                                                   network=network))


def test_operator_to_alice_to_bob_to_operator(hive_with_api: tuple[HiveProcess, ScriptedApi, str]) -> None:
    hive, api, network = hive_with_api
    api.on("please ask bob", reply.tool_use(SEND, {"to": "bob", "body": "bob, the operator says hi"}))
    api.on("bob, the operator says hi", reply.tool_use(SEND, {"to": "operator", "body": "hello operator, from bob"}))
    api.on(after_tool(SEND), reply.text("done"))
    spawn(hive, "alice", ["bob"], network)
    spawn(hive, "bob", [], network)
    sent = hive.host.request("send", to="alice", body="please ask bob to greet me")

    (answer,) = wait_for(lambda: replies_from(hive, "bob"), timeout=90)
    assert answer["body"] == "hello operator, from bob"
    wait_for(lambda: all_acked(hive, ("alice", "bob"), 2), timeout=30)
    messages = hive.host.request("recent", limit=50)["messages"]
    to_bob = [m for m in messages if m["recipient"] == "bob"]
    assert [(m["sender"], m["body"]) for m in to_bob] == [("alice", "bob, the operator says hi")]
    assert sent["recipients"] == ["alice"]
    # Each wake prompt names the sender and carries the body.
    prompts = [r.last_user_text for r in api.message_requests if not r.tool_results]
    assert any("from operator" in p and "please ask bob" in p for p in prompts)
    assert any("from alice" in p and "bob, the operator says hi" in p for p in prompts)
    wanted = {"turn.turn_start", "turn.stream", "turn.turn_end", "turn.turn_stats"}

    def turn_kinds(name: str) -> set[str] | None:
        got = {e["kind"] for e in hive.host.request("events", agent=name, limit=500)["events"]}
        return got if wanted <= got else None

    for name in ("alice", "bob"):
        # The harness acks when its turn ends and sends the turn's events in batches beside that: after the
        # ack, the turn_end and its stats may still be on their way.
        wait_for(lambda name=name: turn_kinds(name), timeout=30)
        stats = [e["payload"] for e in hive.host.request("events", agent=name, kinds=["turn.turn_stats"])["events"]]
        assert stats[-1]["tool_calls"] == 1 and stats[-1]["tool_breakdown"] == {SEND: 1}
        assert stats[-1]["output_tokens"] > 0
    hive.host.request("stop", all=True)
