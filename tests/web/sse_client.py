"""A small SSE reader over httpx for tests: frames as (id, event, data)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: Any


class SSEReader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.last_id: str | None = None

    async def next(self, timeout: float = 5.0, *, events_only: bool = True) -> Frame:
        """The next frame; id-only and comment frames just move `last_id` unless events_only is False."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._frame()
                if frame.event is not None or not events_only:
                    return frame

    async def _frame(self) -> Frame:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if fields:
                    break
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            fields[key] = fields.get(key, "") + value.removeprefix(" ")
        else:
            raise EOFError("the stream ended")
        if "id" in fields:
            self.last_id = fields["id"]
        data = json.loads(fields["data"]) if "data" in fields else None
        return Frame(fields.get("id"), fields.get("event"), data)


@contextlib.asynccontextmanager
async def open_stream(client: httpx.AsyncClient, params: dict[str, str],
                      last_event_id: str | None = None) -> AsyncIterator[SSEReader]:
    headers = {"accept": "text/event-stream"}
    if last_event_id:
        headers["last-event-id"] = last_event_id
    async with client.stream("GET", "/api/stream", params=params, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SSEReader(response)
