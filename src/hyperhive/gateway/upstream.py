"""The gateway's way to the API: HTTP/1.1 connections (h11 over asyncio streams) kept open between calls.

A call takes an idle connection if one is alive, else opens one (TCP, TLS for https, or the daemon's
`ANTHROPIC_UNIX_SOCKET`), and gives it back when both sides ended their message cleanly. A server may
close an idle connection at any moment: a reused one that fails before any answer arrived is retried once
on a fresh connection (the API has not seen the request then)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import certifi
import h11

CONNECT_SECONDS = 30.0
READ_SECONDS = 600.0  # the longest silence of the API inside one answer before the call fails
IDLE_SECONDS = 30.0  # an idle connection older than this is closed, not reused (servers drop them quietly)
MAX_IDLE = 8
READ_SIZE = 65536


class UpstreamClosed(ConnectionError):
    """The API closed the connection before its answer was complete."""


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    tls: bool
    unix_socket: str | None
    prefix: bytes  # the base URL's path, put before every request's target
    host_header: bytes

    @classmethod
    def of(cls, base_url: str, unix_socket: str | None) -> Address:
        url = urlsplit(base_url)
        tls = url.scheme == "https"
        host = url.hostname or "localhost"
        port = url.port or (443 if tls else 80)
        return cls(host, port, tls, unix_socket, url.path.rstrip("/").encode(), url.netloc.encode())


def ignored_proxy(environ: Mapping[str, str], address: Address) -> str | None:
    """The proxy variable that would apply to the API (httpx honoured these; the gateway connects directly),
    so the daemon can say so instead of going around a proxy silently."""
    if address.unix_socket:
        return None
    bypass = [h.strip().lstrip(".") for h in (environ.get("no_proxy") or environ.get("NO_PROXY") or "").split(",")]
    if "*" in bypass or any(h and (address.host == h or address.host.endswith("." + h)) for h in bypass):
        return None
    names = ("https_proxy", "all_proxy") if address.tls else ("http_proxy", "all_proxy")
    return next((var for name in names for var in (name, name.upper()) if environ.get(var)), None)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0  # 0: never used before

    def alive(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    async def request(self, request: h11.Request, body: bytes) -> h11.Response:
        """Send one request; the answer's head (its body follows from `next_event`)."""
        parts = [self.h11.send(request), self.h11.send(h11.Data(data=body)) if body else None,
                 self.h11.send(h11.EndOfMessage())]
        self.writer.write(b"".join(p for p in parts if p))  # one write: head and body in one segment
        await self.writer.drain()
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # a 100 Continue is not the answer
                raise UpstreamClosed("the API closed the connection without answering")

    async def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            await self.receive()

    async def receive(self) -> None:
        async with asyncio.timeout(READ_SECONDS):
            data = await self.reader.read(READ_SIZE)
        self.h11.receive_data(data)  # b"": the API closed its side (h11 says whether that was allowed)

    def close(self) -> None:
        self.writer.close()


class Upstream:
    def __init__(self, address: Address) -> None:
        self.address = address
        self._idle: list[Connection] = []

    async def exchange(self, request: h11.Request, body: bytes) -> tuple[Connection, h11.Response]:
        """Send `request` on a kept or new connection; the connection and the answer's head."""
        conn = self._take()
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._open()
            try:
                return conn, await conn.request(request, body)
            except TimeoutError:  # the API may have the request: never sent twice
                conn.close()
                raise
            except (OSError, h11.RemoteProtocolError):
                conn.close()
                if not reused:
                    raise
                conn, reused = None, False  # the kept connection had gone stale: once more, on a new one

    def release(self, conn: Connection) -> None:
        """Keep `conn` for the next call if its exchange ended cleanly, else close it."""
        if (conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE and len(self._idle) < MAX_IDLE
                and conn.alive()):
            conn.h11.start_next_cycle()
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    def _take(self) -> Connection | None:
        oldest = time.monotonic() - IDLE_SECONDS
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the likeliest to be alive
            if conn.alive() and conn.idle_since > oldest:
                return conn
            conn.close()
        return None

    async def _open(self) -> Connection:
        a = self.address
        async with asyncio.timeout(CONNECT_SECONDS):
            if a.unix_socket:
                reader, writer = await asyncio.open_unix_connection(a.unix_socket, limit=READ_SIZE)
            else:
                reader, writer = await asyncio.open_connection(a.host, a.port, ssl=_tls() if a.tls else None,
                                                               limit=READ_SIZE)
        return Connection(reader, writer)
