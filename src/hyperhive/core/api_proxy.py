"""The Claude API for agents without a network: a Unix socket in the runtime dir that forwards every
request to the real API (or the daemon's `ANTHROPIC_BASE_URL`), streaming the answer back.

A `network = "private"` sandbox has only `lo`; its CLI gets `ANTHROPIC_UNIX_SOCKET` pointing here (the
socket's directory is bound read-only into the sandbox) and can reach the API and nothing else. Not
started when the daemon was itself given `ANTHROPIC_UNIX_SOCKET` (that socket is handed on instead)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

DEFAULT_UPSTREAM = "https://api.anthropic.com"
# Hop-by-hop headers, and those httpx recomputes; everything else passes both ways untouched.
DROPPED = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                     "proxy-connection", "te", "trailer", "content-encoding"})


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon owns the signals


class ApiProxy:
    def __init__(self, runtime_dir: Path, environ: Mapping[str, str]) -> None:
        self.socket = runtime_dir / "api" / "api.sock"
        self.upstream = environ.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=httpx.Timeout(600.0, connect=30.0))
        self._server: _Quiet | None = None
        self._task: asyncio.Task[None] | None = None

    def agent_env(self) -> dict[str, str]:
        return {"ANTHROPIC_UNIX_SOCKET": str(self.socket), "ANTHROPIC_BASE_URL": "http://api"}

    async def start(self) -> None:
        self.socket.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.socket.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.socket))
        os.chmod(self.socket, 0o666)  # the sandboxes' processes may run as other users later
        app = Starlette(routes=[Route("/{path:path}", self._forward,
                                      methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = _Quiet(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="api-proxy")
        log.info("Claude API for private sandboxes: %s → %s", self.socket, self.upstream)

    async def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        await self._client.aclose()
        self.socket.unlink(missing_ok=True)

    async def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
        upstream = self._client.build_request(request.method, request.url.path, params=request.url.query,
                                              headers=headers, content=await request.body())
        try:
            answer = await self._client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            log.warning("API proxy: %s", exc)
            return Response(f'{{"type":"error","error":{{"type":"api_error","message":"hive API proxy: {exc}"}}}}',
                            status_code=502, media_type="application/json")

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:
                await answer.aclose()

        kept = {k: v for k, v in answer.headers.items() if k.lower() not in DROPPED}
        return StreamingResponse(body(), status_code=answer.status_code, headers=kept)
