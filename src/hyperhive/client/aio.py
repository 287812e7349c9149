"""Asyncio client with one persistent connection (the harness, the MCP tool server, `serve`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar, cast

from hyperhive.protocol import MAX_LINE_BYTES, encode_line
from hyperhive.protocol.fields import Request
from hyperhive.protocol.replies import Reply

from .errors import Unreachable, decode_response, unreachable

R = TypeVar("R", bound=Reply)


class AsyncSocketClient:
    """Requests on one connection, one at a time (a lock keeps answers paired with questions).
    Use one client per concurrent conversation: a blocking `recv` holds its connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(
                str(self.path), limit=MAX_LINE_BYTES + 1
            )
        except OSError as exc:
            raise unreachable(self.path, exc) from None

    @property
    def connected(self) -> bool:
        # A connection the hive already closed (a daemon restart) is not one: the next request reconnects
        # instead of writing into it; nothing was sent on it, so nothing is sent twice.
        return (self._writer is not None and not self._writer.is_closing()
                and self._reader is not None and not self._reader.at_eof())

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(self, cmd: str, **fields: Any) -> dict[str, object]:
        """One request; its raw line (read it with its reply model, or call `verb`)."""
        async with self._lock:
            if not self.connected:
                await self.close()  # a connection the hive hung up is closed here, not left to the collector
                await self.connect()
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(encode_line({"cmd": cmd, **fields}))
                await self._writer.drain()
                line = await self._reader.readline()
            except (ConnectionError, OSError) as exc:
                await self.close()
                raise Unreachable(f"lost the connection to {self.path}: {exc}") from None
            if not line:
                await self.close()
                raise Unreachable(f"the hive at {self.path} closed the connection")
        return decode_response(line)

    async def verb(self, kind: type[Request[R]], **fields: Any) -> R:
        """Call a verb by its request model and read its reply model back (None fields are not sent)."""
        line = await self.request(kind.verb_name(), **{k: v for k, v in fields.items() if v is not None})
        return cast(R, kind.reply_model().model_validate(line))


async def stream(path: Path, cmd: str, **fields: Any) -> AsyncIterator[dict[str, object]]:
    """Send one streaming request on a connection of its own and yield every line (the first is the bare
    `ok` that says the stream is open). Raises Unreachable when the hive closes the connection."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE_BYTES + 1)
    except OSError as exc:
        raise unreachable(path, exc) from None
    try:
        writer.write(encode_line({"cmd": cmd, **fields}))
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                raise Unreachable(f"the hive at {path} closed the stream")
            yield decode_response(line)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
