"""hm1nd's tools as Claude Code sees them: `hive-ag3nt mcp` on manager.sock, spoken to with the official MCP
client, against an in-process hive that runs the agents it makes (process runtime). Each tool is called
and its effect checked on the hive; the operator approves through host.sock like hivectl does."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from hyperhive.client import AsyncSocketClient, RequestFailed
from hyperhive.core.hive import Hive
from hyperhive.protocol import MANAGER_NAME
from hyperhive.store import AgentRecord
from tests.support.agents import harness_pids, host
from tests.support.configs import commit_agent_toml

MANAGER_TOOLS = {"request_init_config", "request_apply_commit", "request_spawn", "start", "stop", "restart",
                 "update", "list_agents", "pending_approvals", "rollback"}


@asynccontextmanager
async def manager_tools(hive: Hive) -> AsyncIterator[ClientSession]:
    """The manager's MCP server on its manager.sock (the record exists; nothing runs hm1nd itself)."""
    await hive.registry.add(AgentRecord(name=MANAGER_NAME, kind="managed", created_at=0.0))
    await hive.agent_sockets.open(MANAGER_NAME)
    socket = hive.settings.agent_socket_dir(MANAGER_NAME) / "manager.sock"
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "hyperhive.cli.ag3nt", "mcp", "--socket", str(socket)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def tool(session: ClientSession, tool_name: str, /, **arguments: Any) -> str:
    result = await session.call_tool(tool_name, arguments)
    text = "\n".join(b.text for b in result.content if getattr(b, "type", "") == "text")
    assert not result.is_error, f"{tool_name}: {text}"
    return text


async def approve(hive: Hive, approval_id: int) -> dict[str, Any]:
    await host(hive, "approve", id=approval_id)
    await hive.approvals.drained()  # the approved work has run
    return dict((await host(hive, "show_approval", id=approval_id))["approvals"][0])


def approval_id(text: str) -> int:
    return int(text.split("#", 1)[1].split()[0])


def commit(hive: Hive, name: str, old: str, new: str) -> str:
    repo = hive.settings.state_dir / "configs" / name
    toml = repo / "agent.toml"
    return commit_agent_toml(repo.parent.parent, repo.name, toml.read_text().replace(old, new, 1))


async def manager_mail(hive: Hive) -> list[dict[str, Any]]:
    inbox = AsyncSocketClient(hive.settings.agent_socket_dir(MANAGER_NAME) / "mcp.sock")
    got = await inbox.request("recv", wait_seconds=5, max=32, ack=True)
    await inbox.close()
    return [json.loads(m["body"]) for m in got["messages"] if m["sender"] == "system"]


def state(hive: Hive, name: str) -> str:
    return hive.registry.observed_state(name) or "stopped"


async def test_every_manager_tool_does_its_job(hive: Hive) -> None:
    async with manager_tools(hive) as hm1nd:
        listed = {t.name for t in (await hm1nd.list_tools()).tools}
        assert listed >= MANAGER_TOOLS
        try:
            # request_init_config: once approved, the repo is seeded and hm1nd hears config_ready
            asked = await tool(hm1nd, "request_init_config", name="carol", description="a new one")
            assert "init_config for carol" in asked
            assert (await approve(hive, approval_id(asked)))["status"] == "approved"
            assert (hive.settings.state_dir / "configs" / "carol" / "agent.toml").is_file()
            assert "config_ready" in [e["event"] for e in await manager_mail(hive)]
            assert hive.registry.get("carol") is None or state(hive, "carol") != "running"  # made, not started

            # request_spawn, pending_approvals, list_agents
            spawn = await tool(hm1nd, "request_spawn", name="dave", description="a spawned one")
            assert f"#{approval_id(spawn)} spawn dave" in await tool(hm1nd, "pending_approvals")
            assert (await approve(hive, approval_id(spawn)))["status"] == "approved"
            assert state(hive, "dave") == "running"
            assert "none pending" in await tool(hm1nd, "pending_approvals")
            assert "dave (managed) running" in await tool(hm1nd, "list_agents")

            # stop / start / restart / update of another agent, no approval
            assert await tool(hm1nd, "stop", name="dave") == "dave: stopped"
            assert harness_pids("dave", hive.settings.state_dir) == []
            assert await tool(hm1nd, "start", name="dave") == "dave: running"
            for action in ("restart", "update"):
                before = harness_pids("dave", hive.settings.state_dir)
                assert await tool(hm1nd, action, name="dave") == "dave: running"
                after = harness_pids("dave", hive.settings.state_dir)
                assert len(after) == 1 and after != before, action

            # request_apply_commit twice deployed, then rollback proposes the revert as an approval
            sha = commit(hive, "dave", '# GREETING = "hello"', 'GREETING = "hello"')
            applied = await tool(hm1nd, "request_apply_commit", agent="dave", commit_ref=sha)
            assert (await approve(hive, approval_id(applied)))["status"] == "approved"
            assert hive.registry.require("dave").deployed_sha == sha
            back = await tool(hm1nd, "rollback", agent="dave")
            assert "(pending): roll back dave" in back
            revert = (await host(hive, "show_approval", id=approval_id(back)))["approvals"][0]
            assert revert["kind"] == "apply_commit" and "GREETING" in revert["diff"]
            assert (await approve(hive, approval_id(back)))["status"] == "approved"
            assert hive.registry.require("dave").deployed_sha not in (None, sha)
        finally:
            await host(hive, "kill", all=True)


async def test_the_manager_verbs_are_refused_on_an_agents_own_socket(hive: Hive) -> None:
    await hive.registry.add(AgentRecord(name="alice", kind="managed", created_at=0.0))
    await hive.agent_sockets.open("alice")
    alice = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
    for cmd, fields in (("request_spawn", {"name": "eve"}), ("list_agents", {}), ("rollback", {"agent": "alice"})):
        with pytest.raises(RequestFailed, match="manager"):
            await alice.request(cmd, **fields)
    await alice.close()
