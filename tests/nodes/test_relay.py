"""The relay across nodes on the real Claude Code CLI: two `hive-c0re` node processes on one PostgreSQL
database, alice managed by n1 and bob by n2, each running `hive-ag3nt run` on the pinned CLI against the
scripted Messages API. The operator writes to alice on n1; alice's turn sends to bob, whose node wakes him
through the database; bob's turn replies to the operator, which the operator reads on n1."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, all_acked, replies_from, wait_for
from tests.support.nodes import network_namespaces, node_process, postgres_for, started
from tests.support.postgres import PostgresServer
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = pytest.mark.claude

AGENT_TOML = """name = "{name}"
description = "{name}, a test agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = {recipients}
network = "host"
[restart]
delay_seconds = 0.5
stop_timeout_seconds = 10
"""
SEND = "mcp__hyperhive__send"


def spawn(node: HiveProcess, name: str, recipients: list[str]) -> None:
    node.host.request("spawn", name=name, config=AGENT_TOML.format(name=name, recipients=json.dumps(recipients)))


@pytest.fixture(params=["loopback", "netns"])
def two_nodes(request: pytest.FixtureRequest, short_tmp: Path, claude_bin: str) -> Iterator[
        tuple[HiveProcess, HiveProcess, ScriptedApi]]:
    """Two nodes (not started) on one database and one scripted API. loopback: on the suite's PostgreSQL
    server. netns: each node in a network namespace of its own, reaching the database over its veth and the
    API through a Unix socket (the only path they share is that socket; see test_netns.py)."""
    (short_tmp / "api").mkdir()
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(ScriptedApi(unix_socket=short_tmp / "api" / "api.sock"))
        env = {"HYPERHIVE_RUNTIME": "process", "HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
               **api.unix_env()}
        names = ("n1", "n2")
        if request.param == "loopback":
            server: PostgresServer = request.getfixturevalue("postgres_server")
            database = server.new_database()
            urls, netns = dict.fromkeys(names, database), dict.fromkeys(names, None)
        else:
            spaces = stack.enter_context(network_namespaces(list(names)))
            reachable = stack.enter_context(postgres_for(list(spaces.values())))
            database = reachable.new_database()
            urls = {name: reachable.url_from(spaces[name], database) for name in names}
            netns = {name: spaces[name].name for name in names}
        n1, n2 = (node_process(short_tmp, name, urls[name], env=env, netns=netns[name]) for name in names)
        yield n1, n2, api


def test_operator_to_alice_on_n1_to_bob_on_n2_to_operator(
        two_nodes: tuple[HiveProcess, HiveProcess, ScriptedApi]) -> None:
    n1, n2, api = two_nodes
    api.on("please ask bob", reply.tool_use(SEND, {"to": "bob", "body": "bob, the operator says hi"}))
    api.on("bob, the operator says hi",
           reply.tool_use(SEND, {"to": "operator", "body": "hello operator, from bob on n2"}))
    api.on(after_tool(SEND), reply.text("done"))
    with started(n2):
        spawn(n2, "bob", [])
        with started(n1):  # n1 loads the registry with bob (on n2) in it, then runs alice itself
            spawn(n1, "alice", ["bob"])
            rows = {r["name"]: r["node"] for r in n1.host.request("agent_status")["agent_statuses"]}
            assert rows == {"alice": "n1", "bob": "n2"}
            sent = n1.host.request("send", to="alice", body="please ask bob to greet me")

            (answer,) = wait_for(lambda: replies_from(n1, "bob"), timeout=90)
            assert answer["body"] == "hello operator, from bob on n2"
            wait_for(lambda: all_acked(n1, ("alice", "bob"), 2), timeout=30)
            assert sent["recipients"] == ["alice"]
            prompts = [r.last_user_text for r in api.message_requests if not r.tool_results]
            assert any("from operator" in p and "please ask bob" in p for p in prompts)
            assert any("from alice" in p and "bob, the operator says hi" in p for p in prompts)
            # Each agent's turns ran on its own node: its harness and turn events came from there.
            # The ack follows the turn's end, but the harness reports its events in batches of their own: wait.
            for name, node in (("alice", n1), ("bob", n2)):
                def turn_ended(name: str = name, node: HiveProcess = node) -> bool:
                    kinds = [e["kind"] for e in node.host.request("events", agent=name, limit=500)["events"]]
                    return "turn.turn_end" in kinds

                wait_for(turn_ended, timeout=30)
            # Each node's supervisor ran only its own agent: one sandbox and harness log each.
            for node, own in ((n1, "alice"), (n2, "bob")):
                assert sorted(p.name for p in (node.settings.runtime_dir / "sandboxes").iterdir()) == [own]
                assert sorted(p.name for p in (node.settings.state_dir / "logs").iterdir()) == [own]
            n1.host.request("stop", name="alice")
        n2.host.request("stop", name="bob")
