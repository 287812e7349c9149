"""The gateway: every agent's Claude API traffic, through a Unix socket of its own
(`<runtime>/agents/<name>/api.sock`, seen in the sandbox as /run/hive/api.sock), to the real API (or the
daemon's `ANTHROPIC_BASE_URL` / `ANTHROPIC_UNIX_SOCKET`).

The socket is the caller's identity, as with mcp.sock. Before a call goes out its budgets are checked;
the answer streams back byte for byte while the meter reads the usage it reports. No agent holds the
hive's key: see `credentials.py`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import uvicorn
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hyperhive.runtime.identity import share_socket

from .budgets import Exhausted
from .credentials import HiveCredentials
from .spend import Spend
from .usage import UsageReader

log = logging.getLogger(__name__)

API_SOCKET = "api.sock"
DEFAULT_UPSTREAM = "https://api.anthropic.com"
SANDBOX_BASE_URL = "http://hive-gateway"  # never resolved: the CLI connects to ANTHROPIC_UNIX_SOCKET
BUDGET_ERROR = "hive budget exhausted"  # the harness recognises a refusal by this phrase
# Hop-by-hop headers, and those httpx recomputes; everything else passes both ways untouched.
DROPPED = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                     "proxy-connection", "te", "trailer"})


class _AgentServer(uvicorn.Server):
    """uvicorn on the daemon's loop, without its 0.1 s tick: it waits for `close` instead."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon owns the signals

    async def main_loop(self) -> None:
        await self.stop.wait()


class Gateway:
    def __init__(self, runtime_dir: Path, environ: Mapping[str, str], spend: Spend) -> None:
        self.runtime_dir = runtime_dir
        self.spend = spend
        self.credentials = HiveCredentials.from_environ(environ)
        self._environ = dict(environ)
        upstream_socket = environ.get("ANTHROPIC_UNIX_SOCKET")
        self.upstream = environ.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM
        transport = httpx.AsyncHTTPTransport(uds=upstream_socket) if upstream_socket else None
        self._client = httpx.AsyncClient(base_url=self.upstream, transport=transport,
                                         timeout=httpx.Timeout(600.0, connect=30.0))
        self._servers: dict[str, tuple[_AgentServer, asyncio.Task[None]]] = {}

    def socket_path(self, name: str) -> Path:
        return self.runtime_dir / "agents" / name / API_SOCKET

    def agent_env(self, sockets_dir: str) -> dict[str, str]:
        """What an agent's CLI is given, `sockets_dir` being its socket dir as the sandbox sees it."""
        return {"ANTHROPIC_UNIX_SOCKET": f"{sockets_dir}/{API_SOCKET}", "ANTHROPIC_BASE_URL": SANDBOX_BASE_URL,
                **self.credentials.agent_env(self._environ)}

    async def open(self, name: str) -> None:
        """Serve `name`'s socket (its directory must exist: the agent's socket dir)."""
        if name in self._servers:
            return
        path = self.socket_path(name)
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        # The hive's key is behind this socket: the agent's own group only (runtime/identity.py), as mcp.sock.
        os.chmod(path, 0o660)
        share_socket(path, name)
        config = uvicorn.Config(self._app(name), log_config=None, lifespan="off", access_log=False,
                                server_header=False, date_header=False, proxy_headers=False,
                                timeout_graceful_shutdown=2)
        server = _AgentServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"gateway-{name}")
        self._servers[name] = (server, task)

    async def close(self, name: str, *, remove: bool = True) -> None:
        entry = self._servers.pop(name, None)
        if entry is None:
            return
        server, task = entry
        server.should_exit = True
        server.stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
        if remove:
            self.socket_path(name).unlink(missing_ok=True)

    async def close_all(self) -> None:
        for name in list(self._servers):
            await self.close(name)
        await self._client.aclose()

    # --- one call ----------------------------------------------------------------------------------
    def _app(self, name: str) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await self._forward(name, scope, receive, send)

        return app

    async def _forward(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Plain ASGI, no router or response classes: this sits on every API call's path."""
        method, path = scope["method"], scope["path"]
        metered = method == "POST" and path == "/v1/messages"
        if metered:
            refused = await self.spend.refusal(name)
            if refused is not None:
                await _refusal(refused)(scope, receive, send)
                return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k.decode("latin-1").lower() not in DROPPED}
        self.credentials.swap(headers)
        if metered:
            headers["accept-encoding"] = "identity"  # the meter reads the answer as it passes
        query = scope["query_string"].decode("latin-1")
        upstream = self._client.build_request(method, path + (f"?{query}" if query else ""), headers=headers,
                                              content=await _body(receive))
        try:
            answer = await self._client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            log.warning("gateway: %s", exc)
            await _api_error(502, "api_error", f"hive gateway: the API could not be reached: {exc}")(
                scope, receive, send)
            return
        try:
            await self._relay(name, answer, send, metered and answer.is_success)
        finally:
            await answer.aclose()

    async def _relay(self, name: str, answer: httpx.Response, send: Send, metered: bool) -> None:
        reader = UsageReader(answer.headers.get("content-type", "")) if metered else None
        kept = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()
                if k.lower() not in DROPPED]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": kept})
        async for chunk in answer.aiter_raw():
            if reader is not None:
                reader.feed(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        usage = reader.finish() if reader is not None else None
        if reader is not None and usage is not None:
            counted = self.spend.count(name, reader.model, usage)  # the next call's check sees it already
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if reader is not None and usage is not None:
            await self.spend.save(counted)  # after the answer's end: the agent never waits on an fsync


async def _body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _api_error(status: int, kind: str, message: str) -> Response:
    body = json.dumps({"type": "error", "error": {"type": kind, "message": message}})
    return Response(body, status_code=status, media_type="application/json")


def _refusal(exhausted: Exhausted) -> Response:
    # 403 permission_error: the CLI does not retry it, so a refused call costs one round trip, not ten.
    return _api_error(403, "permission_error", f"{BUDGET_ERROR}: {exhausted.sentence()}")
