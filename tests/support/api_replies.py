"""What the scripted Messages API answers: reply records and their wire encodings (SSE and JSON).

Kept apart from the server so a test reads like a script: `text("hi")`, `tool_use("mcp__x__y", {...})`,
`rate_limited(retry_after=7)`, `hang(event)`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: f"toolu_{uuid.uuid4().hex[:24]}")


@dataclass(frozen=True)
class ApiError:
    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """One answer. `hold` blocks the answer until the event is set (the server sets every hold on close);
    `delay` waits that many seconds first. An `error` wins over content."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    error: ApiError | None = None
    delay: float = 0.0
    hold: threading.Event | None = None
    input_tokens: int = 100
    output_tokens: int = 10
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool_calls else "end_turn"


def text(body: str, **kw: Any) -> Reply:
    return Reply(text=body, **kw)


def tool_use(name: str, input: dict[str, Any], *, text: str | None = None, **kw: Any) -> Reply:
    return Reply(text=text, tool_calls=(ToolCall(name, input),), **kw)


def hang(event: threading.Event, then: Reply | None = None) -> Reply:
    """Hold the request until `event` is set, then answer like `then` (text "ok" by default)."""
    return replace(then or Reply(text="ok"), hold=event)


def error(status: int, type: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(error=ApiError(status, type, message, headers or {}))


def auth_failed() -> Reply:
    return error(401, "authentication_error", "invalid x-api-key")


def rate_limited(retry_after: int = 7) -> Reply:
    reset = (datetime.now(UTC) + timedelta(seconds=retry_after)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"retry-after": str(retry_after)}
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        headers[f"anthropic-ratelimit-{kind}-reset"] = reset
    return error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
                 headers)


def usage_limited(reset_in: int = 3600) -> Reply:
    """A subscription's 5-hour limit: a 429 with the unified headers. The CLI reads them only when logged in
    with OAuth (`ScriptedApi.env(oauth=True)`) and then reports `resetsAt` in its stream."""
    reset = str(int(datetime.now(UTC).timestamp()) + reset_in)
    unified = {"status": "rejected", "reset": reset, "representative-claim": "five_hour", "5h-status": "rejected",
               "5h-reset": reset, "5h-utilization": "1.0"}
    headers = {"retry-after": str(reset_in)} | {f"anthropic-ratelimit-unified-{k}": v for k, v in unified.items()}
    return error(429, "rate_limit_error", "This request would exceed your account's rate limit.", headers)


def server_error() -> Reply:
    return error(500, "api_error", "Internal server error")


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded")


def prompt_too_long(tokens: int = 212345, maximum: int = 200000) -> Reply:
    return error(400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {maximum} maximum")


def error_body(err: ApiError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": err.type, "message": err.message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}"}


def _usage(reply: Reply) -> dict[str, int]:
    return {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
            "cache_read_input_tokens": reply.cache_read_tokens,
            "cache_creation_input_tokens": reply.cache_creation_tokens}


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text is not None:
        blocks.append({"type": "text", "text": reply.text})
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.input} for c in reply.tool_calls]
    return blocks


def message_json(reply: Reply, model: str, msg_id: str) -> dict[str, Any]:
    """The non-streaming answer: one whole message."""
    return {"id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": _blocks(reply), "stop_reason": reply.stop_reason, "stop_sequence": None,
            "usage": _usage(reply)}


def sse_events(reply: Reply, model: str, msg_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The streaming answer as (event name, data) pairs, in the order the real API sends them."""
    start = {**message_json(reply, model, msg_id), "content": [], "stop_reason": None,
             "usage": {**_usage(reply), "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(_blocks(reply)):
        yield from _block_events(index, block)
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                            "usage": {"output_tokens": reply.output_tokens}}
    yield "message_stop", {"type": "message_stop"}


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if block["type"] == "text":
        opening: dict[str, Any] = {"type": "text", "text": ""}
        # Two deltas, so a client that only keeps the last delta would be caught out.
        half = len(block["text"]) // 2
        deltas = [{"type": "text_delta", "text": part} for part in (block["text"][:half], block["text"][half:])]
    else:
        opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        encoded = json.dumps(block["input"])
        half = len(encoded) // 2
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in (encoded[:half], encoded[half:])]
    yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}
