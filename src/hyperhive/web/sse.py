"""GET /api/stream: the live feed as server-sent events.

Query: `topics` (comma-separated; empty: all), `agent` (only updates concerning it, plus those
concerning everyone), `after` (the cursor of the snapshot the page loaded). A reconnecting browser sends
`Last-Event-ID`, which wins over `after`. Each frame's id is `<epoch>.<seq>`; a `reload` event means the
page must load its snapshot again (its cursor is too old, or from before a daemon restart), and the
stream ends. Frames with only an id move a filtered client's cursor past updates it does not want, so it
does not fall behind the ring for nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import StreamingResponse

from .feed import Behind, Cursor, Filter, LiveFeed, Update, sse_frame

KEEPALIVE_SECONDS = 15.0
SKIPPED_BEFORE_ID = 256  # after this many unwanted updates, tell the client how far it has read
RETRY_MS = 1000


def stream_response(feed: LiveFeed, request: Request) -> StreamingResponse:
    params = request.query_params
    wanted = Filter(frozenset(t for t in params.get("topics", "").split(",") if t), params.get("agent") or None)
    given = request.headers.get("last-event-id") or params.get("after")
    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream(feed, given, wanted), media_type="text/event-stream", headers=headers)


async def stream(feed: LiveFeed, given: str | None, wanted: Filter) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    try:
        cursor = Cursor.parse(given) if given else feed.cursor()
        feed.since(cursor)  # checks the cursor before the first wait
    except (ValueError, Behind) as exc:
        yield _reload(feed, str(exc))
        return
    skipped = 0
    while not feed.closed:
        try:
            updates = await _wait(feed, cursor)
        except Behind as exc:
            yield _reload(feed, str(exc))
            return
        if updates is None:  # quiet for a while: a comment keeps proxies from closing the stream
            yield f"id: {cursor}\n: keepalive\n\n"
            skipped = 0
            continue
        frames = []
        for update in updates:
            if wanted.wants(update):
                frames.append(sse_frame(update, feed.epoch))
                skipped = 0
            else:
                skipped += 1
        cursor = Cursor(feed.epoch, updates[-1].seq) if updates else cursor
        if skipped >= SKIPPED_BEFORE_ID:
            frames.append(f"id: {cursor}\n\n")
            skipped = 0
        if frames:  # one write per wake-up, not one per update: a burst costs a few syscalls
            yield "".join(frames)


async def _wait(feed: LiveFeed, cursor: Cursor) -> list[Update] | None:
    try:
        async with asyncio.timeout(KEEPALIVE_SECONDS):
            return await feed.wait(cursor)
    except TimeoutError:
        return None


def _reload(feed: LiveFeed, why: str) -> str:
    return f"id: {feed.cursor()}\nevent: reload\ndata: {json.dumps({'why': why})}\n\n"
