"""The hyperhive MCP server as Claude Code sees it: `hive-ag3nt mcp` over stdio, spoken to with the
official MCP client. Every tool acts as the socket's agent; hive errors come back as tool errors."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from hyperhive.client import AsyncSocketClient
from hyperhive.core.hive import Hive
from hyperhive.store import AgentRecord
from tests.support.agents import host

EXPECTED_TOOLS = {"send", "recv", "whoami", "set_status", "request_next_turn", "get_logs", "ask", "answer",
                  "remind", "get_loose_ends", "cancel_loose_end", "request_schedule_prompt", "list_schedules",
                  "cancel_schedule", "fire_schedule_now"}


@asynccontextmanager
async def tools_of(hive: Hive, name: str) -> AsyncIterator[ClientSession]:
    await hive.registry.add(AgentRecord(name=name, kind="managed", created_at=0.0))
    await hive.agent_sockets.open(name)
    socket = hive.settings.agent_socket_dir(name) / "mcp.sock"
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "hyperhive.cli.ag3nt", "mcp", "--socket", str(socket)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


async def test_tools_act_as_the_socket_agent(hive: Hive) -> None:
    await hive.registry.add(AgentRecord(name="bob", kind="managed", created_at=0.0))
    async with tools_of(hive, "alice") as tools:
        listed = {t.name for t in (await tools.list_tools()).tools}
        assert listed == EXPECTED_TOOLS
        assert text(await tools.call_tool("whoami", {})) == "you are alice (managed)"
        sent = await tools.call_tool("send", {"to": "operator", "body": "hello from alice"})
        assert not sent.is_error and text(sent).endswith("to operator")
        inbox = await host(hive, "inbox")
        assert [(m["sender"], m["body"]) for m in inbox["messages"]] == [("alice", "hello from alice")]
        await host(hive, "send", to="alice", body="ping")
        got = text(await tools.call_tool("recv", {"wait_seconds": 2}))
        assert got.startswith("#") and "from operator:\nping" in got
        await tools.call_tool("set_status", {"text": "reading the docs"})
        row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
        assert row["status_text"] == "reading the docs"
        asked = text(await tools.call_tool("ask", {"question": "ok?", "options": ["y", "n"]}))
        assert asked.startswith("asked question #") and "to operator" in asked
        reminded = text(await tools.call_tool("remind", {"message": "later", "delay_seconds": 600}))
        assert reminded.startswith("reminder #")
        scheduled = text(await tools.call_tool("request_schedule_prompt", {
            "targets": ["alice"], "body": "tidy up", "first_fire_at": "2030-01-01T00:00:00Z"}))
        assert scheduled.startswith("schedule #1 awaits the operator's approval #")
        ends = text(await tools.call_tool("get_loose_ends", {}))
        assert "alice → operator: ok?" in ends and ": later" in ends and "schedule_prompt for alice: pending" in ends
        assert "awaiting_approval" in text(await tools.call_tool("list_schedules", {}))
        assert text(await tools.call_tool("cancel_schedule", {"id": 1})) == "schedule #1 is cancelled"


async def test_hive_errors_reach_the_model_as_tool_errors(hive: Hive) -> None:
    async with tools_of(hive, "alice") as tools:
        refused = await tools.call_tool("send", {"to": "nobody", "body": "hi"})
        assert refused.is_error and "no agent named 'nobody' in this hive" in text(refused)
        direct = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
        asked = await direct.request("ask", question="for the operator")
        await direct.close()
        own = await tools.call_tool("answer", {"id": asked["question"]["id"], "answer": "myself"})
        assert own.is_error and "only the operator answers it" in text(own)
        still = await tools.call_tool("whoami", {})  # the server lives on after errors
        assert not still.is_error


async def test_request_next_turn_queues_mail_from_self(hive: Hive) -> None:
    async with tools_of(hive, "alice") as tools:
        queued = await tools.call_tool("request_next_turn", {"note": "continue the audit"})
        assert not queued.is_error, text(queued)
        row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
        assert row["unread"] == 1  # waiting in alice's own inbox: the harness starts a turn on it
        direct = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
        got = await direct.request("recv", ack=True)
        await direct.close()
        assert [(m["sender"], m["recipient"], m["body"]) for m in got["messages"]] == [
            ("self", "alice", "continue the audit")]
        recent = (await host(hive, "recent", limit=10))["messages"]
        assert [(m["sender"], m["recipient"]) for m in recent] == [("self", "alice")]  # to no one else
