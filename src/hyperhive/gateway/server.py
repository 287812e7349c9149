"""The gateway: every agent's Claude API traffic, through a Unix socket of its own
(`<runtime>/agents/<name>/api.sock`, seen in the sandbox as /run/hive/api.sock), to the real API (or the
daemon's `ANTHROPIC_BASE_URL` / `ANTHROPIC_UNIX_SOCKET`).

The socket is the caller's identity, as with mcp.sock. Before a call goes out its budgets are checked;
the answer streams back byte for byte while the meter reads the usage it reports. No agent holds the
hive's key: see `credentials.py`.

HTTP/1.1 on both sides is h11 over asyncio streams (no framework: this sits on every API call's path);
the way to the API, with its kept connections, is `upstream.py`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

import h11

from hyperhive.runtime.identity import share_socket
from hyperhive.store.usage import UsageRecord

from .budgets import Exhausted
from .credentials import HiveCredentials
from .spend import Spend
from .upstream import READ_SIZE, Address, Connection, Upstream, UpstreamClosed, ignored_proxy
from .usage import UsageReader

log = logging.getLogger(__name__)

API_SOCKET = "api.sock"
DEFAULT_UPSTREAM = "https://api.anthropic.com"
SANDBOX_BASE_URL = "http://hive-gateway"  # never resolved: the CLI connects to ANTHROPIC_UNIX_SOCKET
BUDGET_ERROR = "hive budget exhausted"  # the harness recognises a refusal by this phrase
# Hop-by-hop headers (each side frames its own messages); everything else passes both ways untouched.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"proxy-connection", b"te",
                        b"trailer"})
REQUEST_DROPPED = HOP_BY_HOP | {b"host", b"content-length"}  # the gateway sets both for the API
NO_BODY_METHODS = frozenset({b"GET", b"HEAD", b"DELETE", b"OPTIONS"})


class AgentGone(ConnectionError):
    """The agent hung up (mid-answer, or before it)."""


class Gateway:
    def __init__(self, runtime_dir: Path, environ: Mapping[str, str], spend: Spend) -> None:
        self.runtime_dir = runtime_dir
        self.spend = spend
        self.credentials = HiveCredentials.from_environ(environ)
        self._environ = dict(environ)
        self.upstream = environ.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM
        self._address = Address.of(self.upstream, environ.get("ANTHROPIC_UNIX_SOCKET") or None)
        self._pool = Upstream(self._address)
        proxy = ignored_proxy(environ, self._address)
        if proxy:
            log.warning("gateway: %s is set, but the gateway connects to the API directly; to put a proxy in "
                        "between, point ANTHROPIC_BASE_URL or ANTHROPIC_UNIX_SOCKET at it", proxy)
        self._servers: dict[str, tuple[asyncio.Server, set[asyncio.Task[None]]]] = {}

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
        calls: set[asyncio.Task[None]] = set()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            calls.add(task)
            try:
                await self._serve(name, _Agent(reader, writer))
            except asyncio.CancelledError:
                pass  # `close` ended this connection: asyncio's streams (3.11) would log the cancellation as an error
            finally:
                calls.discard(task)

        server = await asyncio.start_unix_server(serve, sock=sock, limit=READ_SIZE)
        self._servers[name] = (server, calls)

    async def close(self, name: str, *, remove: bool = True) -> None:
        entry = self._servers.pop(name, None)
        if entry is None:
            return
        server, calls = entry
        server.close()
        for task in list(calls):  # an agent's open connections end with it
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await server.wait_closed()
        if remove:
            self.socket_path(name).unlink(missing_ok=True)

    async def close_all(self) -> None:
        for name in list(self._servers):
            await self.close(name)
        self._pool.close()

    # --- one agent connection: calls one after another (HTTP/1.1 keep-alive) ------------------------
    async def _serve(self, name: str, agent: _Agent) -> None:
        try:
            while True:
                request = await agent.next_event()
                if not isinstance(request, h11.Request):
                    return  # the agent closed its idle connection
                body = await agent.body()
                await self._call(name, agent, request, body)
                if not agent.next_cycle():
                    return
        except h11.RemoteProtocolError as exc:  # not HTTP: told so when it can still be
            if agent.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await agent.error(400, "invalid_request_error", f"hive gateway: not an HTTP/1.1 request: {exc}")
        except AgentGone as exc:
            log.debug("gateway %s: %s", name, exc)
        except (ConnectionError, TimeoutError) as exc:
            log.warning("gateway %s: a call was cut off: %r", name, exc)
        except Exception:  # a bug: this connection ends, the agent's next one is served
            log.exception("gateway %s: the call failed", name)
        finally:
            agent.writer.close()

    async def _call(self, name: str, agent: _Agent, request: h11.Request, body: bytes) -> None:
        """One call, hand-written for the hot path: every API call of every agent passes here."""
        metered = request.method == b"POST" and request.target.split(b"?", 1)[0] == b"/v1/messages"
        if metered:
            refused = await self.spend.refusal(name)
            if refused is not None:
                await _refusal(agent, refused)
                return
        try:
            conn, answer = await self._pool.exchange(self._outgoing(request, body, metered), body)
        except (OSError, h11.ProtocolError) as exc:
            log.warning("gateway: the API could not be reached: %r", exc)
            await agent.error(502, "api_error", f"hive gateway: the API could not be reached: {exc!r}")
            return
        try:
            await self._relay(name, agent, conn, answer, metered and 200 <= answer.status_code < 300)
        finally:
            self._pool.release(conn)  # kept for the next call only if the answer ended cleanly

    def _outgoing(self, request: h11.Request, body: bytes, metered: bool) -> h11.Request:
        headers = [(b"host", self._address.host_header)]
        for key, value in request.headers:
            if key not in REQUEST_DROPPED and not (metered and key == b"accept-encoding"):
                headers.append((key, self.credentials.swap(key, value)))
        if body or request.method not in NO_BODY_METHODS:
            headers.append((b"content-length", str(len(body)).encode()))
        if metered:
            headers.append((b"accept-encoding", b"identity"))  # the meter reads the answer as it passes
        return h11.Request(method=request.method, target=self._address.prefix + request.target, headers=headers)

    async def _relay(self, name: str, agent: _Agent, conn: Connection, answer: h11.Response, metered: bool) -> None:
        hangup = _HangUp(agent)
        try:
            await self._stream(name, agent, conn, answer, metered)
        except asyncio.CancelledError:
            if not hangup.happened:
                raise
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
            raise AgentGone("the agent hung up mid-answer") from None
        finally:
            await hangup.end()

    async def _stream(self, name: str, agent: _Agent, conn: Connection, answer: h11.Response, metered: bool) -> None:
        """The answer, byte for byte, while the meter reads it; what arrived in one read goes out in one write.
        Cut off on either side, the other side's connection is cut too (never ended as if complete), and
        what the meter saw so far is counted."""
        reader = UsageReader(_header(answer, b"content-type")) if metered else None
        kept = [(k, v) for k, v in answer.headers if k not in HOP_BY_HOP]
        head = h11.Response(status_code=answer.status_code, headers=kept, reason=answer.reason)
        out: list[bytes | None] = [agent.h11.send(head)]
        counted = None
        try:
            while True:
                event = conn.h11.next_event()
                if event is h11.NEED_DATA:
                    await agent.write(out)
                    await conn.receive()
                elif type(event) is h11.Data:
                    if reader is not None:
                        reader.feed(event.data)
                    out.append(agent.h11.send(event))
                elif type(event) is h11.EndOfMessage:
                    break
                else:
                    raise UpstreamClosed(f"unexpected {event!r} in the API's answer")
            counted = self._count(name, reader)  # before the end goes out: the agent's next call sees it
            out.append(agent.h11.send(h11.EndOfMessage()))
            await agent.write(out)
        except h11.RemoteProtocolError as exc:  # the API's side: the agent's h11 only ever sends
            raise UpstreamClosed(f"the API's answer broke off: {exc}") from exc
        finally:
            if counted is None:
                counted = self._count(name, reader)  # cut off: what the meter saw so far
            if counted is not None:
                self.spend.save(counted)  # after the answer's end, beside the next call

    def _count(self, name: str, reader: UsageReader | None) -> UsageRecord | None:
        usage = reader.finish() if reader is not None else None
        return self.spend.count(name, reader.model, usage) if reader is not None and usage is not None else None


class _HangUp:
    """While an answer streams the agent has nothing to say: its socket reading EOF means it hung up, and
    the call is cancelled at once (the API stops generating), not at the next chunk that fails to go out."""

    def __init__(self, agent: _Agent) -> None:
        self.agent = agent
        self.task = asyncio.current_task()
        self.happened = False
        self._active = True
        self._read = asyncio.ensure_future(agent.reader.read(READ_SIZE))
        self._read.add_done_callback(self._done)

    def _done(self, read: asyncio.Future[bytes]) -> None:
        if self._active and not read.cancelled() and (read.exception() is not None or not read.result()):
            self.happened = True
            if self.task is not None:
                self.task.cancel()

    async def end(self) -> None:
        self._active = False
        if not self._read.done():
            self._read.cancel()
            await asyncio.wait([self._read])  # the stream allows one reader at a time: this one goes first
        if not self._read.cancelled() and self._read.exception() is None:
            self.agent.h11.receive_data(self._read.result())  # the agent's next request sent early, or its EOF


class _Agent:
    """The agent's side of one connection: h11 as the server, over the streams of its socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER)

    async def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self.h11.they_are_waiting_for_100_continue:
                await self.send(h11.InformationalResponse(status_code=100, headers=[]))
            self.h11.receive_data(await self.reader.read(READ_SIZE))

    async def body(self) -> bytes:
        parts = []
        while True:
            event = await self.next_event()
            if type(event) is h11.Data:
                parts.append(event.data)
            elif type(event) is h11.EndOfMessage:
                return b"".join(parts)
            else:
                raise AgentGone("the agent hung up while sending its request")

    async def send(self, event: h11.Event) -> None:
        await self.write([self.h11.send(event)])

    async def write(self, out: list[bytes | None]) -> None:
        """What h11 made of some events, in one write (and `out` emptied)."""
        data = b"".join(filter(None, out))
        out.clear()
        if data:
            self.writer.write(data)
            await self.writer.drain()  # raises once the agent is gone: the call is cut off there

    async def error(self, status: int, kind: str, message: str) -> None:
        body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        await self.send(h11.Response(status_code=status, headers=[(b"content-type", b"application/json"),
                                                                  (b"content-length", str(len(body)).encode())]))
        await self.send(h11.Data(data=body))
        await self.send(h11.EndOfMessage())

    def next_cycle(self) -> bool:
        """Ready for the agent's next call on this connection (False: one side asked to close)."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False


def _header(message: h11.Response, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in message.headers if k == name), "")


async def _refusal(agent: _Agent, exhausted: Exhausted) -> None:
    # 403 permission_error: the CLI does not retry it, so a refused call costs one round trip, not ten.
    await agent.error(403, "permission_error", f"{BUDGET_ERROR}: {exhausted.sentence()}")
