"""The part of MCP's streamable HTTP transport a Claude Code turn uses, without the SDK: tools only, stateless,
JSON answers (no SSE stream), one bearer token.

Why not the official SDK here: importing it costs an agent 32 MB of PSS for as long as the harness lives
(measured, docs/decisions.md), which alone would break the < 60 MB an idle agent may hold. The subset is
small: `initialize`, `ping`, `tools/list`, `tools/call` and notifications, each a JSON-RPC POST; argument
schemas and validation come from pydantic, from the tools' own signatures, as the SDK makes them. The SDK
stays for `hive-ag3nt mcp` over stdio, and the tests compare both servers' tool lists.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import pydantic

from hyperhive.protocol import HiveError

log = logging.getLogger(__name__)
Tool = Callable[..., Awaitable[str]]
MAX_BODY = 4 << 20
DEFAULT_PROTOCOL = "2025-06-18"
REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Content Too Large"}


class ToolListing(TypedDict):
    """A tool as `tools/list` shows it."""

    name: str
    description: str
    inputSchema: dict[str, object]


class TextContent(TypedDict):
    type: str
    text: str


class ToolResult(TypedDict):
    """`tools/call`'s result."""

    content: list[TextContent]
    isError: bool


class RpcProblem(TypedDict):
    code: int
    message: str


class RpcResult(TypedDict):
    jsonrpc: str
    id: object
    result: Mapping[str, object]


class RpcError(TypedDict):
    jsonrpc: str
    id: object
    error: RpcProblem


RpcAnswer = RpcResult | RpcError


@dataclass(frozen=True)
class _Entry:
    fn: Tool
    arguments: type[pydantic.BaseModel]
    listing: ToolListing


def _entry(fn: Tool) -> _Entry:
    hints = typing.get_type_hints(fn)
    empty = inspect.Parameter.empty
    fields: Mapping[str, Any] = {  # name -> (annotation, default), as create_model takes them
        name: (hints.get(name, Any), ... if param.default is empty else param.default)
        for name, param in inspect.signature(fn).parameters.items()}
    model = pydantic.create_model(f"{fn.__name__}Arguments", **fields)
    listing: ToolListing = {"name": fn.__name__, "description": inspect.getdoc(fn) or "",
                            "inputSchema": model.model_json_schema()}
    return _Entry(fn, model, listing)


class McpHttpServer:
    def __init__(self, name: str, version: str, instructions: str, tools: list[Tool], token: str,
                 path: str = "/mcp") -> None:
        self.info = {"name": name, "version": version}
        self.instructions = instructions
        self.tools = {fn.__name__: _entry(fn) for fn in tools}
        self.auth = f"Bearer {token}"
        self.path = path
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Future[tuple[int, Any]]] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # open keep-alive connections, closed with the server

    async def start(self, host: str = "127.0.0.1") -> int:
        """Listen on an ephemeral port of `host`; returns the port."""
        self._server = await asyncio.start_server(self._connection, host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        calls = list(self._calls)
        self.cancel_calls()  # and wait: a call cancelled mid-reconnect would open a connection nobody closes
        await asyncio.gather(*calls, return_exceptions=True)
        if self._server is not None:
            self._server.close()  # stops listening; the connections it accepted stay open until closed below
            self._server = None
        for writer in list(self._writers):  # a CLI's idle keep-alive connection would outlive the server
            writer.close()
        self._writers.clear()

    # --- HTTP/1.1, keep-alive --------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while request := await _read_request(reader):
                call = asyncio.ensure_future(self._http(*request))
                self._calls.add(call)
                try:
                    status, body = await call
                except asyncio.CancelledError:
                    if call.cancelled():  # cancel_calls: the turn is over, its call ends with the connection
                        break
                    raise
                finally:
                    self._calls.discard(call)
                _write_response(writer, status, body)
                await writer.drain()
                if status in (400, 411, 413):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def cancel_calls(self) -> None:
        """End every call still running: the turn is over and nothing it started may go on (a permission
        prompt's card is cancelled with its connection to the hive)."""
        for call in list(self._calls):
            call.cancel()

    async def _http(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if target.split("?", 1)[0] != self.path:
            return 404, None
        if headers.get("authorization") != self.auth:
            return 401, None
        if headers.get("transfer-encoding"):
            return 411, None
        if int(headers.get("content-length") or 0) > MAX_BODY:
            return 413, None
        if method != "POST":
            return 405, None  # no server-initiated stream (GET), no session to end (DELETE): stateless
        try:
            message = json.loads(body)
        except ValueError:
            return 400, _error(None, -32700, "the body is not JSON")
        if isinstance(message, list):
            answers = [a for a in [await self._rpc(m) for m in message] if a is not None]
            return (200, answers) if answers else (202, None)
        answer = await self._rpc(message)
        return (200, answer) if answer is not None else (202, None)

    # --- JSON-RPC ------------------------------------------------------------------------------------------
    async def _rpc(self, message: object) -> RpcAnswer | None:
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            return None if isinstance(message, dict) and "id" not in message else _error(
                message.get("id") if isinstance(message, dict) else None, -32600, "not a JSON-RPC request")
        if "id" not in message:
            return None  # a notification (initialized, cancelled): nothing to answer
        rid, method, params = message["id"], message["method"], message.get("params") or {}
        if method == "initialize":
            version = params.get("protocolVersion") if isinstance(params.get("protocolVersion"), str) else None
            return _result(rid, {"protocolVersion": version or DEFAULT_PROTOCOL, "serverInfo": self.info,
                                 "capabilities": {"tools": {"listChanged": False}},
                                 "instructions": self.instructions})
        if method == "ping":
            return _result(rid, {})
        if method == "tools/list":
            return _result(rid, {"tools": [e.listing for e in self.tools.values()]})
        if method == "tools/call":
            return _result(rid, await self._call(str(params.get("name")), params.get("arguments") or {}))
        return _error(rid, -32601, f"method not found: {method}")

    async def _call(self, name: str, arguments: object) -> ToolResult:
        entry = self.tools.get(name)
        if entry is None:
            return _tool_text(f"Unknown tool: {name}", error=True)
        try:
            args = entry.arguments.model_validate(arguments)
            return _tool_text(await entry.fn(**{k: getattr(args, k) for k in args.model_fields_set}))
        except pydantic.ValidationError as exc:
            return _tool_text(f"Error executing tool {name}: {exc}", error=True)
        except HiveError as exc:
            return _tool_text(exc.message, error=True)
        except Exception:
            log.exception("tool %s failed", name)
            return _tool_text(f"Error executing tool {name}: an internal error (the harness log has it)",
                              error=True)


def _tool_text(text: str, *, error: bool = False) -> ToolResult:
    return {"content": [{"type": "text", "text": text}], "isError": error}


def _result(rid: object, result: Mapping[str, object]) -> RpcResult:
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def _error(rid: object, code: int, message: str) -> RpcError:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    if length > MAX_BODY:
        return method, target, headers, b""  # answered 413 unread, and the connection closed
    return method, target, headers, await reader.readexactly(length) if length else b""


def _write_response(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
    body = b"" if payload is None else json.dumps(payload).encode()
    head = [f"HTTP/1.1 {status} {REASONS.get(status, '')}", f"content-length: {len(body)}"]
    if payload is not None:
        head.append("content-type: application/json")
    if status == 405:
        head.append("allow: POST")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
