"""A scripted Anthropic Messages API for tests that run the real Claude Code CLI.

It serves `POST /v1/messages` (SSE or JSON) on 127.0.0.1 with an OS-chosen port and, when asked, on a Unix
socket too (for `ANTHROPIC_UNIX_SOCKET` from inside a sandbox). Tests script answers with rules matched on the
request's last *user-role* message: the CLI appends a `role:"system"` environment block after the user turn,
so `messages[-1]` is the wrong thing to match on. Every request is recorded for assertions.

    api.on("hello", text("hi there"))
    api.on(after_tool("mcp__t__echo"), text("done"))
    api.script(rate_limited(), text("ok"))  # the next two /v1/messages requests, whatever they say

Strict by default: a /v1/messages request that no script or rule answers, or a request to a path the API
does not have, is answered with an error and recorded; closing the server then fails the test, naming each
such request. So a script that no longer matches what the CLI sends cannot pass by accident. A test that
means "anything else gets this" says so: `ScriptedApi(default=text("ok"))`.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from tests.support.api_replies import ApiError, Reply, error_body, message_json, sse_events

log = logging.getLogger(__name__)

# A held request gives up after this long so a broken test cannot hang the suite; close() releases all.
HOLD_LIMIT = 120.0


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    name: str | None  # from the assistant tool_use block with the same id, when the history has it
    content: Any
    is_error: bool


@dataclass(frozen=True)
class ApiRequest:
    index: int
    method: str
    path: str
    query: str
    headers: dict[str, str]  # keys lowercased
    body: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def last_user(self) -> dict[str, Any] | None:
        users = [m for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else None

    @property
    def last_user_text(self) -> str:
        return _text_of(self.last_user["content"]) if self.last_user else ""

    @property
    def tool_results(self) -> list[ToolResult]:
        """The tool_result blocks of the last user message, named after their tool_use."""
        if not self.last_user or not isinstance(self.last_user["content"], list):
            return []
        names = {b["id"]: b["name"] for m in self.messages if m.get("role") == "assistant"
                 for b in _blocks(m["content"]) if b.get("type") == "tool_use"}
        return [ToolResult(b["tool_use_id"], names.get(b["tool_use_id"]), b.get("content"),
                           bool(b.get("is_error", False)))
                for b in self.last_user["content"] if b.get("type") == "tool_result"]

    @property
    def all_text(self) -> str:
        """Every text of every message, to check that a resumed session re-sent its history."""
        return "\n".join(_text_of(m.get("content", "")) for m in self.messages)

    @property
    def tool_names(self) -> list[str]:
        return [t["name"] for t in self.body.get("tools", [])] if isinstance(self.body, dict) else []

    @property
    def streaming(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def model(self) -> str:
        return str(self.body.get("model", "")) if isinstance(self.body, dict) else ""


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in _blocks(content) if b.get("type") == "text")


Matcher = str | Callable[[ApiRequest], bool]
ReplyFn = Callable[["ApiRequest"], Reply]


def after_tool(name: str) -> Callable[[ApiRequest], bool]:
    """Matches a request whose last user message carries the result of a call to tool `name`."""
    return lambda req: any(r.name == name for r in req.tool_results)


def hive_notice(req: ApiRequest) -> bool:
    """A turn the hive itself started: one of its events by mail (`{"event": "rebuilt", …}`, approval_resolved,
    question_answered, message_parked, …) or the note after a restart. A story that is not about these
    answers them on purpose: `api.on(hive_notice, text("noted"))`."""
    text = req.last_user_text
    return not req.tool_results and ('{"event": "' in text or "You were restarted by the hive" in text)


@dataclass
class _Rule:
    matcher: Matcher
    replies: list[Reply | ReplyFn]
    repeat: bool

    def matches(self, req: ApiRequest) -> bool:
        if isinstance(self.matcher, str):
            return not req.tool_results and self.matcher in req.last_user_text
        return self.matcher(req)

    def take(self) -> Reply | ReplyFn:
        # The last reply sticks when `repeat`; otherwise the rule is used up after its replies.
        return self.replies[0] if len(self.replies) == 1 and self.repeat else self.replies.pop(0)


@dataclass
class _State:
    rules: list[_Rule] = field(default_factory=list)
    scripted: list[Reply] = field(default_factory=list)
    requests: list[ApiRequest] = field(default_factory=list)
    unmatched: list[ApiRequest] = field(default_factory=list)
    holds: list[threading.Event] = field(default_factory=list)


class UnmatchedRequests(AssertionError):
    """Requests the script did not answer (raised when the server closes, or by `check()`)."""


class ScriptedApi:
    """The server. Use as a context manager, or call start() and close()."""

    def __init__(self, unix_socket: Path | None = None, default: Reply | None = None) -> None:
        self.default = default  # None: strict, an unmatched request fails the test
        self.unix_socket = unix_socket
        self._state = _State()
        self._cond = threading.Condition()
        self._servers: list[socketserver.BaseServer] = []
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> ScriptedApi:
        tcp = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._servers.append(tcp)
        if self.unix_socket is not None:
            self.unix_socket.unlink(missing_ok=True)  # left by a run that was killed
            self._servers.append(_UnixHTTPServer(str(self.unix_socket), _Handler))
            self.unix_socket.chmod(0o666)  # as the daemon's own API proxy: agents run under their own uids
        for server in self._servers:
            server.daemon_threads = True  # type: ignore[attr-defined]  # both mixin servers have it
            cast(Any, server).api = self
            # A short poll interval: shutdown() waits for one, and every test closes a server.
            threading.Thread(target=server.serve_forever, args=(0.05,), name="scripted-api", daemon=True).start()
        self.base_url = f"http://127.0.0.1:{tcp.server_address[1]}"
        return self

    def close(self, *, check: bool = True) -> None:
        """Stop serving; then (unless `check=False`) fail if any request went unmatched."""
        self.release_all()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self.unix_socket is not None:
            self.unix_socket.unlink(missing_ok=True)
        if check:
            self.check()

    def check(self) -> None:
        """Raise UnmatchedRequests naming every request the script did not answer so far."""
        with self._cond:
            unmatched = list(self._state.unmatched)
        if unmatched:
            lines = "\n".join(f"  #{r.index} {r.method} {r.path}: {_describe(r)}" for r in unmatched)
            raise UnmatchedRequests(f"the scripted API got {len(unmatched)} request(s) no rule answers "
                                    f"(add api.on(...) for them, or ScriptedApi(default=...)):\n{lines}")

    @property
    def unmatched(self) -> list[ApiRequest]:
        with self._cond:
            return list(self._state.unmatched)

    def __enter__(self) -> ScriptedApi:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # A test that already failed keeps its own error; one that passed fails here if a request went unmatched.
        self.close(check=exc_type is None)

    def env(self, *, oauth: bool = False) -> dict[str, str]:
        """The environment that points the CLI here (over TCP). `oauth` logs in like a subscription instead
        of an API key: only then does the CLI read the unified rate-limit headers (see `usage_limited`)."""
        if oauth:
            return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": "",
                    "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-test"}
        return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": "sk-ant-test"}

    def unix_env(self) -> dict[str, str]:
        """The environment that points the CLI at the Unix socket (the host name is never resolved)."""
        assert self.unix_socket is not None, "ScriptedApi(unix_socket=...) serves no socket"
        return {"ANTHROPIC_UNIX_SOCKET": str(self.unix_socket), "ANTHROPIC_BASE_URL": "http://scripted-api",
                "ANTHROPIC_API_KEY": "sk-ant-test"}

    # --- scripting -------------------------------------------------------------------------------------

    def on(self, when: Matcher, *replies: Reply | ReplyFn, repeat: bool = True) -> None:
        """Answer requests that match `when` with `replies`, in order. A str matches a substring of the last
        user message's text (and never a tool-result message); a callable gets the ApiRequest."""
        with self._cond:
            self._state.rules.append(_Rule(when, list(replies), repeat))

    def script(self, *replies: Reply) -> None:
        """Answer the next /v1/messages requests with these, in order, before any rule is consulted."""
        with self._cond:
            self._state.scripted.extend(replies)

    def release_all(self) -> None:
        with self._cond:
            for event in self._state.holds:
                event.set()

    # --- recording -------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[ApiRequest]:
        with self._cond:
            return list(self._state.requests)

    @property
    def message_requests(self) -> list[ApiRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    def wait_for_request(self, predicate: Callable[[ApiRequest], bool] | None = None, timeout: float = 10.0,
                         *, after: int = 0) -> ApiRequest:
        """The first request (index >= after) that satisfies `predicate`, waiting for it if need be."""
        pred = predicate or (lambda r: r.path == "/v1/messages")
        found: list[ApiRequest] = []

        def ready() -> bool:
            found[:] = [r for r in self._state.requests[after:] if pred(r)][:1]
            return bool(found)

        with self._cond:
            if not self._cond.wait_for(ready, timeout):
                seen = [(r.method, r.path, r.last_user_text[:60]) for r in self._state.requests]
                raise TimeoutError(f"no matching request within {timeout}s; seen: {seen}")
        return found[0]

    # --- serving (called from handler threads) ----------------------------------------------------------

    def _record(self, method: str, target: str, headers: dict[str, str], body: Any) -> ApiRequest:
        url = urlsplit(target)
        with self._cond:
            req = ApiRequest(len(self._state.requests), method, url.path, url.query, headers, body)
            self._state.requests.append(req)
            self._cond.notify_all()
        return req

    def _choose(self, req: ApiRequest) -> Reply:
        with self._cond:
            reply: Reply | ReplyFn
            if self._state.scripted:
                reply = self._state.scripted.pop(0)
            else:
                rule = next((r for r in self._state.rules if r.replies and r.matches(req)), None)
                if rule is not None:
                    reply = rule.take()
                elif self.default is not None:
                    reply = self.default
                else:
                    return self._refuse(req, 400, "no rule of the test's script matches this request")
            if callable(reply):  # a reply made from the request (e.g. naming a sha a tool just printed)
                reply = reply(req)
            if reply.hold is not None:
                self._state.holds.append(reply.hold)
            return reply

    def _refuse(self, req: ApiRequest, status: int, why: str) -> Reply:
        """Record `req` as unmatched and answer it with an error the CLI does not retry."""
        with self._cond:
            self._state.unmatched.append(req)
        log.error("scripted API: unmatched request #%d %s %s: %s", req.index, req.method, req.path, _describe(req))
        return Reply(error=ApiError(status, "invalid_request_error", f"scripted API: {why}"))


def _describe(req: ApiRequest) -> str:
    if req.path != "/v1/messages":
        return "a path the scripted API does not serve"
    if req.tool_results:
        return f"tool results of {[r.name for r in req.tool_results]}"
    return f"last user text {req.last_user_text[-120:]!r}"


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "scripted-api/1"

    @property
    def api(self) -> ScriptedApi:
        return cast(ScriptedApi, cast(Any, self.server).api)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self._route(self.api._record("POST", self.path, _lower(self.headers.items()), body))

    def do_GET(self) -> None:
        self._route(self.api._record("GET", self.path, _lower(self.headers.items()), None))

    def _route(self, req: ApiRequest) -> None:
        with suppress(BrokenPipeError, ConnectionResetError):
            if req.path == "/v1/messages" and req.method == "POST":
                self._answer(req, self.api._choose(req))
            elif req.path == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": max(1, len(json.dumps(req.body)) // 4)})
            else:
                refusal = self.api._refuse(req, 404, f"no such path {req.method} {req.path}")
                assert refusal.error is not None
                self._json(404, error_body(refusal.error))

    def _answer(self, req: ApiRequest, reply: Reply) -> None:
        if reply.hold is not None:
            reply.hold.wait(HOLD_LIMIT)
        if reply.delay:
            threading.Event().wait(reply.delay)  # a scripted latency, not a wait for a condition
        if reply.error is not None:
            self._json(reply.error.status, error_body(reply.error), reply.error.headers)
            return
        model, msg_id = req.model or "claude-scripted", f"msg_scripted_{req.index:04d}"
        if not req.streaming:
            self._json(200, message_json(reply, model, msg_id))
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        for name, data in sse_events(reply, model, msg_id):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        # Over a Unix socket client_address is "", which the base class would index.
        return str(self.client_address[0]) if isinstance(self.client_address, tuple) else "unix"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("scripted API: " + format, *args)


def _lower(items: Iterator[tuple[str, str]] | Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}
