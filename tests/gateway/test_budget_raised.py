"""A spent budget lifted by the operator approving a higher one (a config change like any other), through a
real hive-c0re: the gateway's refusal on the wire (403, the phrase the harness knows, no API call), then
hm1nd's commit, the operator's approval, and the agent's calls going through again at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import api_replies as reply
from tests.support.configs import commit_agent_toml
from tests.support.hive import AgentConn, HiveProcess, wait_for
from tests.support.scripted_api import ScriptedApi

AGENT = """name = "alice"
role = "agent"
model = "claude-sonnet-4-5"
[budget]
daily_tokens = {tokens}
"""
CALL = {"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def hive(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    with ScriptedApi(default=reply.text("ok", input_tokens=1400, output_tokens=100)) as api:
        proc = HiveProcess(short_tmp, env={"HYPERHIVE_MANAGER": "on", "HYPERHIVE_CLAUDE": claude_bin,
                                           "ANTHROPIC_BASE_URL": api.base_url, "ANTHROPIC_API_KEY": "sk-ant-hive"})
        proc.start()
        try:
            wait_for(lambda: (proc.settings.agent_socket_dir("hm1nd") / "manager.sock").exists(), timeout=30)
            proc.host.request("spawn", name="alice", config=AGENT.format(tokens=1000))
            yield proc, api
        finally:
            proc.host.request("stop", all=True)
            proc.stop()


def call(hive: HiveProcess) -> httpx.Response:
    """A Messages call on alice's gateway socket, as her CLI makes it."""
    transport = httpx.HTTPTransport(uds=str(hive.settings.agent_socket_dir("alice") / "api.sock"))
    with httpx.Client(base_url="http://hive-gateway", transport=transport, timeout=30) as client:
        return client.post("/v1/messages", json=CALL, headers={"x-api-key": "hive-gateway"})


def alices(api: ScriptedApi) -> int:
    """alice's calls that reached the API (hm1nd, woken by the events, makes its own)."""
    return sum(1 for r in api.message_requests if r.last_user_text == "hi")


def row(hive: HiveProcess) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=["alice"])["agent_statuses"][0])


def test_an_approved_higher_budget_lets_the_agent_through_at_once(hive: tuple[HiveProcess, ScriptedApi]) -> None:
    proc, api = hive
    assert call(proc).status_code == 200  # 1,500 tokens: the budget is spent by this call
    wait_for(lambda: row(proc)["budget_exhausted"] is True)
    refused = call(proc)
    assert refused.status_code == 403 and alices(api) == 1  # refused at the gateway
    error = refused.json()["error"]
    assert error["type"] == "permission_error"
    assert error["message"].startswith("hive budget exhausted: alice's daily_tokens (1000) is spent (1500); resets at ")

    sha = commit_agent_toml(proc.settings.state_dir, "alice", AGENT.format(tokens=5000), "a bigger budget")
    with AgentConn(proc.settings.agent_socket_dir("hm1nd") / "manager.sock") as hm1nd:
        approval = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha)["approval"]
    proc.host.request("approve", id=approval["id"])
    wait_for(lambda: row(proc)["deployed_sha"] == sha[:12] and row(proc)["budget_exhausted"] is False, timeout=60)
    assert proc.host.request("events", agent="alice", kinds=["budget_restored"])["events"]
    assert call(proc).status_code == 200 and alices(api) == 2
    mail = [json.loads(m["body"]) for m in proc.host.request("inbox", limit=100)["messages"] if m["sender"] == "system"]
    assert [e["budget"] for e in mail if e["event"] == "budget_exhausted"] == ["daily_tokens"]
