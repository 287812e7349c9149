"""The `hyperhive` MCP tools, hosted once per agent inside the harness (streamable HTTP on 127.0.0.1).

A turn's CLI connects to them in milliseconds instead of starting `hive-ag3nt mcp`, whose `mcp` SDK import
alone took ~0.9 s a turn. The server binds an ephemeral port on the loopback (the sandbox's own network
namespace; the CLI of 2.1.331 speaks MCP over stdio, SSE, HTTP or WebSocket, not over a Unix socket) and
answers only requests carrying its random bearer token, so with the plain process runtime another local
process cannot act as this agent.

What the turn loop relies on: `recv` leaves mail unacked (held by the tools' own hive connection) and
records it in the turn ledger; `release()` closes that connection when the turn's mail has been acked or
the turn was lost, so whatever is still held goes back to the inbox — as it did when the per-turn server
died with its CLI.

The SDK, Starlette and uvicorn are imported only when `start()` runs (in a thread, so the harness keeps
answering meanwhile): a harness that never takes a turn does not pay for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

    from .tools import HiveTools

log = logging.getLogger(__name__)
PATH = "/mcp"


@dataclass(frozen=True)
class Endpoint:
    """Where a turn's CLI finds the hosted tools (written into its mcp.json)."""

    url: str
    token: str

    def mcp_entry(self) -> dict[str, Any]:
        return {"type": "http", "url": self.url, "headers": {"Authorization": f"Bearer {self.token}"}}


class ToolHost:
    def __init__(self, socket_path: Path, turn_ledger: Path) -> None:
        self.socket_path = socket_path
        self.turn_ledger = turn_ledger
        self._tools: HiveTools | None = None
        self._server: uvicorn.Server | None = None
        self._sock: socket.socket | None = None
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
        for module in ("hyperhive.agent.tools", "uvicorn"):
            await asyncio.to_thread(importlib.import_module, module)
        import uvicorn

        from .tools import hive_tools

        tools = self._tools = await hive_tools(self.socket_path, self.turn_ledger)
        token = secrets.token_urlsafe(32)
        app = tools.server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, json_response=True)
        sock = self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        config = uvicorn.Config(_bearer_only(app, token), log_level="warning", access_log=False, lifespan="on")
        config.load()
        server = self._server = uvicorn.Server(config)
        # Not server.serve(): it takes over SIGINT/SIGTERM (the harness's own) and ticks ten times a second.
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        port = sock.getsockname()[1]
        log.info("hyperhive tools on 127.0.0.1:%d", port)
        return Endpoint(f"http://127.0.0.1:{port}{PATH}", token)

    async def release(self) -> None:
        """Close the tools' hive connection: mail `recv` read and nobody acked goes back to the inbox, and a
        tool call a finished turn left behind (a long `recv`) ends. The next call connects again."""
        if self._tools is not None:
            await self._tools.client.close()

    async def close(self) -> None:
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
        if self._server is not None and self._server.started:
            await self._server.shutdown(sockets=[self._sock] if self._sock else None)
        if self._sock is not None:
            self._sock.close()
        await self.release()
        self._server = self._sock = self._tools = None


def _bearer_only(app: Any, token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"this agent's tools need its token\n"})
            return
        await app(scope, receive, send)

    return guarded
