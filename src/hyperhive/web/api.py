"""JSON routes: each page's `.json` twin, transcript backfill, stats, logs, the verb and action posts,
and the live stream."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hyperhive.protocol import MAX_LINE_BYTES, ErrorCode, HiveError, decode_line
from hyperhive.protocol.replies import Reply

from . import snapshots
from .dashboard import Dashboard
from .dispatch import call_verb, run_action
from .responses import json_route
from .sse import stream_response
from .stats import Stats
from .usage import usage_json


def dashboard(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dashboard
    return found


_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also says yes to "²"


async def _body(request: Request) -> dict[str, object]:
    """The posted JSON object, held to the same rules as a line on host.sock (size, depth, text)."""
    raw = bytearray()
    async for chunk in request.stream():  # read no more than the limit, whatever the client sends
        raw += chunk
        if len(raw) > MAX_LINE_BYTES:
            raise HiveError(ErrorCode.LINE_TOO_LONG, f"the request body is longer than {MAX_LINE_BYTES} bytes")
    return decode_line(bytes(raw))


def _int(request: Request, name: str, default: int | None, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not _WHOLE_NUMBER.fullmatch(text):
        raise HiveError(ErrorCode.BAD_REQUEST, f"{name} must be a whole number of at most 18 digits")
    return min(int(text), high)


def page_json(snapshot: Callable[[Dashboard], Awaitable[BaseModel]]) -> Callable[[Request], Awaitable[Response]]:
    """The `.json` twin of a page that shows the whole hive: its snapshot."""

    @json_route
    async def route(request: Request) -> BaseModel:
        return await snapshot(dashboard(request))

    return route


@json_route
async def agent_json(request: Request) -> snapshots.AgentPage:
    return await snapshots.agent(dashboard(request), request.path_params["name"])


@json_route
async def transcript_json(request: Request) -> snapshots.Transcript:
    d, name = dashboard(request), request.path_params["name"]
    d.hive.registry.require(name)
    limit = _int(request, "limit", snapshots.TRANSCRIPT_PAGE, 1000) or 1
    return await snapshots.transcript(d, name, _int(request, "before", None, 2**62), limit)


@json_route
async def stats_json(request: Request) -> Stats:
    d, name = dashboard(request), request.path_params["name"]
    d.hive.registry.require(name)
    return await snapshots.stats(d, name)


@json_route
async def logs_json(request: Request) -> snapshots.LogsPage:
    lines = _int(request, "lines", snapshots.LOG_LINES, 5000) or 1
    return await snapshots.logs(dashboard(request), request.path_params["name"], lines)


@json_route
async def post_verb(request: Request) -> Reply:
    """Any host verb by `cmd`: `{"cmd": "send", "to": "bob", "body": "hi"}`."""
    return await call_verb(dashboard(request).hive, await _body(request))


@json_route
async def post_action(request: Request) -> Reply:
    """A lifecycle action on one agent: `{"action": "restart", "name": "bob"}`."""
    body = await _body(request)
    action, name = body.get("action"), body.get("name")
    if not isinstance(action, str) or not isinstance(name, str):
        raise HiveError(ErrorCode.BAD_REQUEST, 'an action needs "action" and "name" strings')
    return await run_action(dashboard(request).hive, action, name)


async def live_stream(request: Request) -> Response:
    return stream_response(dashboard(request).feed, request)


ROUTES = [
    Route("/swarm.json", page_json(snapshots.swarm), name="swarm_json"),
    Route("/call.json", page_json(snapshots.your_call), name="call_json"),
    Route("/flow.json", page_json(snapshots.flow), name="flow_json"),
    Route("/schedules.json", page_json(snapshots.schedules), name="schedules_json"),
    Route("/usage.json", usage_json),
    Route("/agents/{name}.json", agent_json),
    Route("/agents/{name}/transcript.json", transcript_json),
    Route("/agents/{name}/stats.json", stats_json),
    Route("/agents/{name}/logs.json", logs_json),
    Route("/api/verb", post_verb, methods=["POST"]),
    Route("/api/action", post_action, methods=["POST"]),
    Route("/api/stream", live_stream),
]
