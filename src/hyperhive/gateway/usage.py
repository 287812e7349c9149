"""Reading what a call used from the answer as it streams past, without changing a byte of it.

The Messages API reports usage twice in a stream: `message_start` carries the input side (input, cache
read, cache write, and a first output count), `message_delta` the final output count (and, on newer
APIs, restated input counts). A non-streaming answer carries one `usage` object in its JSON body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_JSON_BODY = 4 << 20  # a non-streaming answer larger than this is not parsed for usage


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


_FIELDS = {"input_tokens": "input_tokens", "output_tokens": "output_tokens",
           "cache_read_input_tokens": "cache_read_tokens", "cache_creation_input_tokens": "cache_write_tokens"}


class UsageReader:
    """Fed the raw bytes of an answer in order; knows the model and usage once it has seen them."""

    def __init__(self, content_type: str) -> None:
        self.streaming = content_type.startswith("text/event-stream")
        self.model = ""
        self.seen = False
        self._counts: dict[str, int] = {}
        self._pending = b""
        self._body: list[bytes] = []
        self._body_size = 0

    def feed(self, chunk: bytes) -> None:
        if not self.streaming:
            self._body_size += len(chunk)
            if self._body_size <= MAX_JSON_BODY:
                self._body.append(chunk)
            return
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            # Only the two events that carry usage are parsed; text deltas pass untouched.
            if line.startswith(b"data:") and (b'"message_start"' in line or b'"message_delta"' in line):
                self._event(_loads(line[5:]))

    def finish(self) -> Usage | None:
        """The call's usage, or None when the answer reported none (an error, a cut-off stream)."""
        if self.streaming:
            if self._pending:
                self.feed(b"\n")
        elif self._body and self._body_size <= MAX_JSON_BODY:
            body = _loads(b"".join(self._body))
            self.model = str(body.get("model") or "")
            self._take(body.get("usage"))
        if not self.seen:
            return None
        return Usage(**{name: self._counts.get(name, 0) for name in _FIELDS.values()})

    def _event(self, event: Mapping[str, object]) -> None:
        if event.get("type") == "message_start":
            message = _object(event.get("message"))
            self.model = str(message.get("model") or "")
            self._take(message.get("usage"))
        elif event.get("type") == "message_delta":
            self._take(event.get("usage"))

    def _take(self, usage: object) -> None:
        # Later reports restate counts (the final output count replaces the first); they never add.
        if isinstance(usage, dict):
            for wire, name in _FIELDS.items():
                value = usage.get(wire)
                if isinstance(value, int) and not isinstance(value, bool):
                    self._counts[name] = value
                    self.seen = True


# The API's JSON as it comes: read by key, each value checked before use; what is not an object reads as empty
# (a malformed body meters nothing, it never fails the relay).
def _loads(raw: bytes) -> Mapping[str, object]:
    try:
        return _object(json.loads(raw))
    except ValueError:
        return {}


def _object(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}
