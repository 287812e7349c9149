"""JSON-lines over Unix sockets: the one piece of plumbing host.sock and every agent socket share.

A connection reads one request per line and answers one response per line. Malformed or oversized lines
get an error response, never a dropped connection without a word; a handler's bug becomes an `internal`
error for that request (logged here with its traceback, never sent over the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hyperhive.protocol import (
    MAX_LINE_BYTES,
    ErrorCode,
    HiveError,
    decode_line,
    encode_line,
    error_response,
)
from hyperhive.store import StoreUnavailable

log = logging.getLogger(__name__)
TOO_LONG = object()


class Connection:
    """One client connection: read requests, write responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, obj: dict[str, Any]) -> None:
        self.writer.write(encode_line(obj))
        await self.writer.drain()

    async def read_line(self) -> bytes | object | None:
        """The next line; TOO_LONG for a line over the limit (discarded); None at end of stream."""
        try:
            return await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial or None
        except asyncio.LimitOverrunError as exc:
            await self.reader.readexactly(exc.consumed)
            while True:  # discard the rest of the long line
                try:
                    await self.reader.readuntil(b"\n")
                    return TOO_LONG
                except asyncio.LimitOverrunError as more:
                    await self.reader.readexactly(more.consumed)
                except asyncio.IncompleteReadError:
                    return TOO_LONG


# A handler answers one request object with a response object, or None when it streamed its own answer.
Handler = Callable[[Connection, dict[str, Any]], Awaitable[dict[str, Any] | None]]


async def serve_connection(conn: Connection, handle: Handler) -> None:
    while True:
        line = await conn.read_line()
        if line is None:
            return
        if line is TOO_LONG:
            await conn.send(error_response(
                ErrorCode.LINE_TOO_LONG, f"the request line is longer than {MAX_LINE_BYTES} bytes; it was discarded"
            ))
            continue
        assert isinstance(line, bytes)
        if not line.strip():
            continue
        req_id: Any = None
        try:
            obj = decode_line(line)
            req_id = obj.get("req_id") if isinstance(obj.get("req_id"), int | str) else None
            response = await handle(conn, obj)
        except HiveError as exc:
            response = error_response(exc.code, exc.message, req_id)
        except StoreUnavailable as exc:  # the database is down or cut off: say so; the pool reconnects
            response = error_response(ErrorCode.UNAVAILABLE, str(exc), req_id)
        except Exception:
            log.exception("request failed: %.200r", line)
            response = error_response(ErrorCode.INTERNAL, "internal error; the daemon log has the details", req_id)
        if response is not None:
            await conn.send(response)


class UnixLineServer:
    """A Unix socket that serves JSON lines to `handle`. `on_close` runs when a connection ends."""

    def __init__(
        self,
        path: Path,
        handle: Handler,
        *,
        mode: int = 0o660,
        group: str | None = None,
        on_connect: Callable[[Connection], None] | None = None,
        on_close: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> None:
        self.path = path
        self._handle = handle
        self._mode = mode
        self._group = group
        self._on_connect = on_connect
        self._on_close = on_close
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_socket(self.path)
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path), limit=MAX_LINE_BYTES)
        os.chmod(self.path, self._mode)
        if self._group:
            with contextlib.suppress(KeyError, PermissionError):
                os.chown(self.path, -1, grp.getgrnam(self._group).gr_gid)

    async def close(self, remove: bool = True) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            # An aborted transport closes its socket in a callback on the next loop iteration.
            await asyncio.sleep(0)
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection(reader, writer)
        cancelled = False
        try:
            if self._on_connect:
                self._on_connect(conn)
            await serve_connection(conn, self._handle)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Shutdown cancels connection tasks. The task ends here; re-raising would only make
            # Python 3.11's start_unix_server callback log a spurious error (fixed in 3.12).
            cancelled = True
        finally:
            try:
                if self._on_close:
                    await self._on_close(conn)
            finally:
                if cancelled:
                    writer.transport.abort()  # a reader that stopped reading must not hold the close up
                else:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
                self._tasks.discard(task)


class SocketInUse(Exception):
    pass


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket file left by a dead process; refuse if something still answers on it."""
    if not path.exists() and not path.is_symlink():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise SocketInUse(f"{path} is in use by another process (is another hive-c0re running?)")
