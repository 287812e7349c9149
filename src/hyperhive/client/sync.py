"""Blocking client for scripts and hivectl: one connection per request, as hyperhive v1 allows."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from hyperhive.protocol import encode_line
from hyperhive.protocol.fields import Request
from hyperhive.protocol.replies import Reply

from .errors import Unreachable, decode_response, unreachable

R = TypeVar("R", bound=Reply)


class SocketClient:
    def __init__(self, path: Path, timeout: float | None = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, cmd: str, **fields: Any) -> dict[str, object]:
        with self._connect() as sock, sock.makefile("rwb") as stream:
            stream.write(encode_line({"cmd": cmd, **fields}))
            stream.flush()
            return self._read(stream)

    def verb(self, kind: type[Request[R]], **fields: Any) -> R:
        """Call a verb by its request model and read its reply model back (None fields are not sent)."""
        line = self.request(kind.verb_name(), **{k: v for k, v in fields.items() if v is not None})
        return cast(R, kind.reply_model().model_validate(line))

    def stream(self, cmd: str, **fields: Any) -> Iterator[dict[str, object]]:
        """Send one request and yield every response line until the hive closes the connection."""
        with self._connect(timeout=None) as sock, sock.makefile("rwb") as stream:
            stream.write(encode_line({"cmd": cmd, **fields}))
            stream.flush()
            while True:
                yield self._read(stream)

    def _connect(self, timeout: float | None = -1.0) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout if timeout == -1.0 else timeout)
        try:
            sock.connect(str(self.path))
        except OSError as exc:
            sock.close()
            raise unreachable(self.path, exc) from None
        return sock

    def _read(self, stream: io.BufferedIOBase) -> dict[str, object]:
        try:
            line = stream.readline()
        except TimeoutError:
            raise Unreachable(f"the hive at {self.path} did not answer within {self.timeout} s") from None
        if not line:
            raise Unreachable(f"the hive at {self.path} closed the connection without an answer")
        return decode_response(line)
