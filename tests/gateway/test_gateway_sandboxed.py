"""The gateway with agents in real bubblewrap sandboxes: a private-network and a host-network agent both
reach the API only through their own gateway socket, neither holds the hive's key (looked for from inside,
by the agent's own Bash tool, and in its files from outside), and both are metered exactly as the scripted
API reported, to the token and the cent (`hivectl usage`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_sandboxed_agents import end_hive, start_hive
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.needs import require_bwrap
from tests.support.reaper import acting_as_init
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = [pytest.mark.bwrap, pytest.mark.claude]
HIVE_KEY = "sk-ant-hive-key-kept-by-the-gateway"
AGENT = """name = "{name}"
role = "agent"
model = "claude-sonnet-4-5"
network = "{network}"
"""
# Sonnet 4.5, per million tokens: input 3, output 15, cache write 3.75, cache read 0.30 (prices.toml).
ALICE = {"input_tokens": 700, "output_tokens": 50, "cache_creation_tokens": 20, "cache_read_tokens": 30}
BOB = {"input_tokens": 300, "output_tokens": 40, "cache_creation_tokens": 5, "cache_read_tokens": 10}
# Every process in the sandbox (harness, CLI, this shell): their environments, as seen from inside.
PROBE = ("env > /hive/state/env.txt; "
         "for e in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $e; done > /hive/state/environs.txt")


def cost(usage: dict[str, int], calls: int) -> float:
    return calls * (usage["input_tokens"] * 3 + usage["output_tokens"] * 15 + usage["cache_creation_tokens"] * 3.75
                    + usage["cache_read_tokens"] * 0.3) / 1e6


@pytest.fixture
def hive_and_api(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    require_bwrap()
    with acting_as_init(), ScriptedApi() as api:
        running = start_hive(short_tmp / "hive", {"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                                  "ANTHROPIC_BASE_URL": api.base_url, "ANTHROPIC_API_KEY": HIVE_KEY})
        try:
            yield running, api
        finally:
            end_hive(running)
            for log in sorted(running.settings.state_dir.glob("logs/*/harness.log")):  # shown when a test fails
                print(f"--- {log}\n{log.read_text()[-3000:]}")
            print(f"--- hive-c0re\n{running.log_text()[-5000:]}")


def turn(hive: HiveProcess, api: ScriptedApi, name: str, body: str) -> int:
    """Send `body`, wait until the turn is done; the number of API calls it made."""
    before = len(api.message_requests)
    hive.host.request("send", to=name, body=body)
    api.wait_for_request(lambda r: body in r.all_text, timeout=60, after=before)
    wait_for(lambda: status(hive, name)["unread"] == 0 and status(hive, name)["activity"] == "idle", timeout=60)
    return len(api.message_requests) - before


def status(hive: HiveProcess, name: str) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=[name])["agent_statuses"][0])


def hivectl(hive: HiveProcess, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "hyperhive.cli.hivectl", "--socket", str(hive.settings.host_socket),
                           *args], capture_output=True, text=True, check=True, env=hive.env).stdout


def test_private_and_host_network_agents_are_metered_exactly_and_never_hold_the_key(
    hive_and_api: tuple[HiveProcess, ScriptedApi]
) -> None:
    hive, api = hive_and_api
    for name, network in (("alice", "private"), ("bob", "host")):
        hive.host.request("spawn", name=name, config=AGENT.format(name=name, network=network))
    wait_for(lambda: status(hive, "alice")["activity"] == "idle" and status(hive, "bob")["activity"] == "idle",
             timeout=60)

    api.on("run the probe", reply.tool_use("Bash", {"command": PROBE, "description": "probe"}, **ALICE))
    api.on(after_tool("Bash"), reply.text("probed", **ALICE))
    alice_calls = turn(hive, api, "alice", "please run the probe")
    api.script(reply.tool_use("Bash", {"command": PROBE, "description": "probe"}, **BOB),
               reply.text("probed", **BOB))  # bob, on the host's network, runs the same probe
    bob_calls = turn(hive, api, "bob", "please run the probe too")
    assert (alice_calls, bob_calls) == (2, 2)
    assert all(r.headers.get("x-api-key") == HIVE_KEY for r in api.message_requests)  # swapped in by the gateway

    for name in ("alice", "bob"):
        home = hive.settings.state_dir / "agents" / name / "state"
        env = dict(line.split("=", 1) for line in (home / "env.txt").read_text().splitlines() if "=" in line)
        assert env["ANTHROPIC_UNIX_SOCKET"] == "/run/hive/api.sock" and env["ANTHROPIC_API_KEY"] == "hive-gateway"
        assert "ANTHROPIC_UNIX_SOCKET=/run/hive/api.sock" in (home / "environs.txt").read_text()
    for root in (hive.settings.state_dir / "agents", hive.settings.runtime_dir / "agents"):  # all they see
        for path in root.rglob("*"):
            if path.is_file():
                assert HIVE_KEY.encode() not in path.read_bytes(), f"{path} holds the hive's key"

    report = json.loads(hivectl(hive, "--json", "usage", "--since", "1h"))
    by_agent = {row["key"]: row for row in report["usage"]}
    for name, usage, calls in (("alice", ALICE, alice_calls), ("bob", BOB, bob_calls)):
        row = by_agent[name]
        assert (row["calls"], row["input_tokens"], row["output_tokens"], row["cache_read_tokens"],
                row["cache_write_tokens"]) == (calls, calls * usage["input_tokens"], calls * usage["output_tokens"],
                                               calls * usage["cache_read_tokens"],
                                               calls * usage["cache_creation_tokens"])
        assert row["cost_usd"] == pytest.approx(cost(usage, calls), abs=1e-12)
    by_model = json.loads(hivectl(hive, "--json", "usage", "bob", "--by", "model"))["usage"]
    assert [(m["key"], m["calls"]) for m in by_model] == [("claude-sonnet-4-5", bob_calls)]
    text = hivectl(hive, "usage", "--by", "day")
    assert "CALLS" in text and "prices as of 2026-11-25" in text
