"""The `hyperhive` MCP tools, hosted once per agent inside the harness (streamable HTTP on 127.0.0.1).

A turn's CLI connects to them in milliseconds instead of starting `hive-ag3nt mcp`, whose `mcp` SDK import
alone took ~0.9 s a turn. The server binds an ephemeral port on the loopback (the sandbox's own network
namespace; the CLI of 2.1.331 speaks MCP over stdio, SSE, HTTP or WebSocket, not over a Unix socket) and
answers only requests carrying its random bearer token, so with the plain process runtime another local
process cannot act as this agent. It is mcp_http.py, not the SDK: see there why.

What the turn loop relies on: `recv` leaves mail unacked (held by the tools' own hive connection) and
records it in the turn ledger; `release()` closes that connection when the turn's mail has been acked or
the turn was lost, so whatever is still held goes back to the inbox — as it did when the per-turn server
died with its CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from .mcp_http import McpHttpServer
from .permission_prompt import McpServer
from .tools import INSTRUCTIONS, SERVER_NAME, HiveTools, hive_tools

log = logging.getLogger(__name__)
PATH = "/mcp"


@dataclass(frozen=True)
class Endpoint:
    """Where a turn's CLI finds the hosted tools (written into its mcp.json)."""

    url: str
    token: str

    def mcp_entry(self) -> McpServer:
        return {"type": "http", "url": self.url, "headers": {"Authorization": f"Bearer {self.token}"}}


class ToolHost:
    def __init__(self, socket_path: Path, turn_ledger: Path, ask_rules: list[str] | None = None,
                 ask_timeout: float | None = None) -> None:
        self.socket_path = socket_path
        self.turn_ledger = turn_ledger
        self.ask_rules = ask_rules or []  # the agent's [tools] ask: its permission prompts go to the operator
        self.ask_timeout = ask_timeout
        self._tools: HiveTools | None = None
        self._server: McpHttpServer | None = None
        self._starting: asyncio.Task[Endpoint] | None = None

    def start_soon(self) -> None:
        """Begin starting in the background (the harness does this once it is idle)."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start(), name="tool-host")

    async def endpoint(self) -> Endpoint:
        """The running server's endpoint, starting it first if need be."""
        self.start_soon()
        assert self._starting is not None
        return await asyncio.shield(self._starting)

    async def _start(self) -> Endpoint:
        tools = self._tools = await hive_tools(self.socket_path, self.turn_ledger, self.ask_rules, self.ask_timeout)
        token = secrets.token_urlsafe(32)
        server = self._server = McpHttpServer(SERVER_NAME, version("hyperhive"), INSTRUCTIONS, tools.functions,
                                              token, PATH)
        port = await server.start("127.0.0.1")
        log.info("hyperhive tools on 127.0.0.1:%d", port)
        return Endpoint(f"http://127.0.0.1:{port}{PATH}", token)

    async def release(self) -> None:
        """Close the tools' hive connection: mail `recv` read and nobody acked goes back to the inbox, and a
        tool call a finished turn left behind (a long `recv`) ends. The next call connects again."""
        if self._server is not None:
            self._server.cancel_calls()
        if self._tools is not None:
            await self._tools.client.close()

    async def close(self) -> None:
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
        if self._server is not None:
            await self._server.close()
        await self.release()
        self._server = self._tools = None
