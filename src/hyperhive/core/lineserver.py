"""JSON-lines over Unix sockets: the one piece of plumbing host.sock and every agent socket share.

A connection reads one request per line and answers one response per line. Malformed or oversized lines
get an error response, never a dropped connection without a word; a handler's bug becomes an `internal`
error for that request (logged here with its traceback, never sent over the socket).

What one client (an agent, for its socket) can make the daemon hold is bounded (`LineLimits`): the
connections per socket, the bytes of a line, how long a line may take to arrive once begun, and the bytes
of unfinished lines across the socket. Beyond a bound the client gets a `limit` error line, the daemon a
log line, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import select
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hyperhive.protocol import (
    MAX_LINE_BYTES,
    ErrorCode,
    HiveError,
    decode_line,
    encode_line,
    error_response,
)
from hyperhive.protocol.wire import req_id_of
from hyperhive.store import StoreUnavailable

log = logging.getLogger(__name__)
TOO_LONG = object()
READ_CHUNK = 64 * 1024
T = TypeVar("T")
CLOSE_GRACE_SECONDS = 5.0  # how long a closing connection may take to take its last answers
REFUSAL_LOG_SECONDS = 10.0  # a flood of refusals logs one line per this long, with the count


@dataclass(frozen=True)
class LineLimits:
    """What one socket's clients together may make the daemon hold."""

    max_connections: int = 32
    max_line_bytes: int = MAX_LINE_BYTES
    max_pending_bytes: int = 4 * MAX_LINE_BYTES  # unfinished lines across every connection of the socket
    line_seconds: float = 30.0  # a line must end this long after its first byte (no slowloris)


AGENT_LIMITS = LineLimits()
HOST_LIMITS = LineLimits(max_connections=128)


class Hangup(HiveError):
    """A bound a client went past: it is told why, then its connection is closed."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.LIMIT, message)


class _Budget:
    """The bytes of unfinished lines a socket holds, across its connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise Hangup(f"this socket holds {self.used} bytes of unfinished lines, the most it keeps is "
                         f"{self.limit}: finish a line before starting more")
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


class Connection:
    """One client connection: read requests, write responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 limits: LineLimits = AGENT_LIMITS, budget: _Budget | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self.limits = limits
        self._budget = budget or _Budget(limits.max_pending_bytes)
        self._buffer = bytearray()  # the unfinished line (and any lines after it), counted in the budget
        self._scanned = 0  # bytes of _buffer known to hold no newline
        self._discarding = False  # inside a line over the limit: drop bytes until its newline
        self._too_long = False  # a discarded line ended: say so before the next line
        self._line_began: float | None = None  # monotonic time of the unfinished line's first byte

    async def send(self, obj: Mapping[str, object]) -> None:
        self.writer.write(encode_line(obj))
        transport = self.writer.transport
        if transport.get_write_buffer_size() or transport.is_closing():  # else the socket took it all
            await self.writer.drain()

    async def read_line(self) -> bytes | object | None:
        """The next line; TOO_LONG for a line over the limit (discarded); None at end of stream.
        Raises Hangup when the line takes too long or the socket holds too much."""
        while True:
            line = self._next_line()
            if line is not None:
                return line
            if self._line_began is None and (self._buffer or self._discarding):
                self._line_began = time.monotonic()  # a line begun while a request ran: its clock starts now
            chunk = await self._read_chunk()
            if not chunk:
                return self._at_eof()
            if self._whole_line(chunk):
                return chunk
            self._add(chunk)

    async def until_hangup(self) -> None:
        """Return when the client closes its end; what it sends meanwhile is read and dropped, never kept."""
        while await self.reader.read(READ_CHUNK):
            pass

    async def stream_until_hangup(self, next_item: Callable[[], Awaitable[T]],
                                  send_item: Callable[[T], Awaitable[None]]) -> None:
        """A stream's loop: wait for the next item, send it, again, until the client hangs up (then the
        wait for the next item is cancelled). The item and the hangup race, so nothing polls."""
        closed = asyncio.ensure_future(self.until_hangup())
        try:
            while True:
                item = asyncio.ensure_future(next_item())
                await asyncio.wait({item, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed.done():
                    item.cancel()
                    return
                await send_item(item.result())
        finally:
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await closed

    def release(self) -> None:
        """Give back what this connection holds of the socket's budget (at close)."""
        self._budget.give(len(self._buffer))
        self._buffer.clear()

    def _next_line(self) -> bytes | object | None:
        if self._too_long:
            self._too_long = False
            return TOO_LONG
        end = self._buffer.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._buffer)
            if len(self._buffer) > self.limits.max_line_bytes:
                self.release()
                self._scanned = 0
                self._discarding = True
            return None
        line = bytes(self._buffer[:end + 1])
        del self._buffer[:end + 1]
        self._budget.give(end + 1)
        self._scanned = 0
        self._line_began = None  # the next line's clock starts when it is waited for (read_line)
        return line if end <= self.limits.max_line_bytes else TOO_LONG

    def _whole_line(self, chunk: bytes) -> bool:
        """The common case, a request read in one piece: nothing is held and the chunk is one line within the
        limit, so it is the line itself (no copy into the buffer, nothing to count against the budget)."""
        return (not self._buffer and not self._discarding and chunk.find(b"\n") == len(chunk) - 1
                and len(chunk) <= self.limits.max_line_bytes + 1)

    def _add(self, chunk: bytes) -> None:
        if self._line_began is None:
            self._line_began = time.monotonic()
        if self._discarding:
            end = chunk.find(b"\n")
            if end < 0:
                return
            self._discarding, self._too_long = False, True
            chunk = chunk[end + 1:]
            self._line_began = None
        self._budget.take(len(chunk))
        self._buffer += chunk

    async def _read_chunk(self) -> bytes:
        if self._line_began is None:  # between lines a client may stay quiet as long as it likes
            return await self.reader.read(READ_CHUNK)
        left = self._line_began + self.limits.line_seconds - time.monotonic()
        try:
            async with asyncio.timeout(max(left, 0)):
                return await self.reader.read(READ_CHUNK)
        except TimeoutError:
            raise Hangup(f"a line was begun and not ended within {self.limits.line_seconds:g} s") from None

    def _at_eof(self) -> bytes | object | None:
        if self._discarding:
            self._discarding = False
            return TOO_LONG
        rest = bytes(self._buffer)
        self.release()
        return rest or None


# A handler answers one request object with a response object, or None when it streamed its own answer.
Handler = Callable[[Connection, dict[str, Any]], Awaitable[dict[str, Any] | None]]


async def serve_connection(conn: Connection, handle: Handler) -> None:
    while True:
        line = await conn.read_line()
        if line is None:
            return
        if line is TOO_LONG:
            await conn.send(error_response(
                ErrorCode.LINE_TOO_LONG,
                f"the request line is longer than {conn.limits.max_line_bytes} bytes; it was discarded"))
            continue
        assert isinstance(line, bytes)
        if not line.strip():
            continue
        await _answer(conn, handle, line)


async def _answer(conn: Connection, handle: Handler, line: bytes) -> None:
    req_id: int | str | None = None
    try:
        obj = decode_line(line)
        req_id = req_id_of(obj)
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


class _RefusalLog:
    """Logs refusals without letting a flood of them flood the log: one line per kind of refusal (too many
    connections, a line too slow or too much pending) per REFUSAL_LOG_SECONDS, counting those left out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def note(self, kind: str, reason: str) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -REFUSAL_LOG_SECONDS) < REFUSAL_LOG_SECONDS:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return
        quiet = self._quiet.pop(kind, 0)
        more = f" (and {quiet} more such since the last line)" if quiet else ""
        log.warning("%s: %s; the connection was closed%s", self.path, reason, more)
        self._last[kind] = now


class UnixLineServer:
    """A Unix socket that serves JSON lines to `handle`. `on_close` runs when a connection ends."""

    def __init__(
        self,
        path: Path,
        handle: Handler,
        *,
        mode: int = 0o660,
        group: str | None = None,
        limits: LineLimits = AGENT_LIMITS,
        on_connect: Callable[[Connection], None] | None = None,
        on_close: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> None:
        self.path = path
        self.limits = limits
        self._handle = handle
        self._mode = mode
        self._group = group
        self._on_connect = on_connect
        self._on_close = on_close
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._budget = _Budget(limits.max_pending_bytes)
        self._refusals = _RefusalLog(path)

    @property
    def connections(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_socket(self.path)
        # The stream's own buffer stays small (it pauses reading at twice this); lines gather in Connection.
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path), limit=READ_CHUNK)
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

    def _full(self) -> bool:
        """Whether a new connection must be turned away. A connection whose client has closed it is still
        ending here (its end of stream unread, its `on_close` running) but holds no place: a client that
        closes one and connects again at once is served. Those ending may at most double the tasks."""
        held = len(self._tasks)
        if held < self.limits.max_connections:
            return False
        if held >= 2 * self.limits.max_connections:
            return True
        return held - _hung_up(self._tasks.values()) >= self.limits.max_connections

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._full():
            await self._turn_away(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks[task] = writer
        conn = Connection(reader, writer, self.limits, self._budget)
        cancelled = False
        try:
            if self._on_connect:
                self._on_connect(conn)
            await serve_connection(conn, self._handle)
        except Hangup as exc:
            self._refusals.note("line", exc.message)
            writer.write(encode_line(error_response(exc.code, exc.message)))  # no drain: it may not read
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Shutdown cancels connection tasks. The task ends here; re-raising would only make
            # Python 3.11's start_unix_server callback log a spurious error (fixed in 3.12).
            cancelled = True
        finally:
            conn.release()
            try:
                if self._on_close:
                    await self._on_close(conn)
            except asyncio.CancelledError:
                cancelled = True  # shutdown cancelled it while it ended: it ends here all the same (as above)
            finally:
                await _close_writer(writer, abort=cancelled)
                self._tasks.pop(task, None)

    async def _turn_away(self, writer: asyncio.StreamWriter) -> None:
        reason = (f"this socket already serves {self.limits.max_connections} connections, the most it takes: "
                  "close one and retry")
        self._refusals.note("connection", f"refused a connection: {reason}")
        writer.write(encode_line(error_response(ErrorCode.LIMIT, reason)))
        await _close_writer(writer, abort=False)


def _hung_up(writers: Iterable[asyncio.StreamWriter]) -> int:
    """How many of these connections' clients have closed their end. The kernel marks a Unix socket hung
    up (POLLHUP) in the client's close() itself, before this loop reads the end of stream; a client that
    only shut down its writing half still waits for answers and is not counted."""
    poller = select.poll()
    closing = 0
    for writer in writers:
        sock = writer.get_extra_info("socket")
        if writer.transport.is_closing() or sock is None:
            closing += 1  # closing on our side (its fd may already be another connection's)
        else:
            poller.register(sock.fileno(), select.POLLIN)
    return closing + sum(1 for _fd, events in poller.poll(0) if events & select.POLLHUP)


async def _close_writer(writer: asyncio.StreamWriter, *, abort: bool) -> None:
    if abort:
        writer.transport.abort()  # a reader that stopped reading must not hold the close up
        return
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE_SECONDS):
            await writer.wait_closed()
    except TimeoutError:  # a client that reads nothing cannot keep its unsent answers in our memory
        writer.transport.abort()
    except Exception:
        pass


class SocketInUse(Exception):
    pass


def check_not_in_use(path: Path) -> bool:
    """Raise SocketInUse when something answers on the socket at `path`; else whether a file is there (one a
    dead process left)."""
    if not path.exists() and not path.is_symlink():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return True
    finally:
        probe.close()
    raise SocketInUse(f"{path} is in use by another process (is another hive-c0re running?)")


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket file left by a dead process; refuse if something still answers on it."""
    if check_not_in_use(path):
        path.unlink()
