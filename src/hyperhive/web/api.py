"""JSON routes: each page's `.json` twin, transcript backfill, stats, logs, the verb and action posts,
and the live stream."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hyperhive.protocol import MAX_LINE_BYTES, ErrorCode, HiveError, decode_line

from . import snapshots
from .dashboard import Dashboard
from .dispatch import call_verb, run_action
from .responses import json_route
from .sse import stream_response
from .usage import usage_json


def dashboard(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dashboard
    return found


_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also says yes to "²"


async def _body(request: Request) -> dict[str, Any]:
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


@json_route
async def swarm_json(request: Request) -> snapshots.SwarmPage:
    return await snapshots.swarm(dashboard(request))


@json_route
async def call_json(request: Request) -> snapshots.CallPage:
    return await snapshots.your_call(dashboard(request))


@json_route
async def flow_json(request: Request) -> snapshots.FlowPage:
    return await snapshots.flow(dashboard(request))


@json_route
async def schedules_json(request: Request) -> snapshots.SchedulesPage:
    return await snapshots.schedules(dashboard(request))


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
async def stats_json(request: Request) -> dict[str, Any]:
    d, name = dashboard(request), request.path_params["name"]
    d.hive.registry.require(name)
    return await snapshots.stats(d, name)


@json_route
async def logs_json(request: Request) -> snapshots.LogsPage:
    lines = _int(request, "lines", snapshots.LOG_LINES, 5000) or 1
    return await snapshots.logs(dashboard(request), request.path_params["name"], lines)


@json_route
async def post_verb(request: Request) -> dict[str, Any]:
    """Any host verb by `cmd`: `{"cmd": "send", "to": "bob", "body": "hi"}`."""
    return await call_verb(dashboard(request).hive, await _body(request))


@json_route
async def post_action(request: Request) -> dict[str, Any]:
    """A lifecycle action on one agent: `{"action": "restart", "name": "bob"}`."""
    body = await _body(request)
    action, name = body.get("action"), body.get("name")
    if not isinstance(action, str) or not isinstance(name, str):
        raise HiveError(ErrorCode.BAD_REQUEST, 'an action needs "action" and "name" strings')
    return await run_action(dashboard(request).hive, action, name)


async def live_stream(request: Request) -> Response:
    return stream_response(dashboard(request).feed, request)


ROUTES = [
    Route("/swarm.json", swarm_json),
    Route("/call.json", call_json),
    Route("/flow.json", flow_json),
    Route("/schedules.json", schedules_json),
    Route("/usage.json", usage_json),
    Route("/agents/{name}.json", agent_json),
    Route("/agents/{name}/transcript.json", transcript_json),
    Route("/agents/{name}/stats.json", stats_json),
    Route("/agents/{name}/logs.json", logs_json),
    Route("/api/verb", post_verb, methods=["POST"]),
    Route("/api/action", post_action, methods=["POST"]),
    Route("/api/stream", live_stream),
]
