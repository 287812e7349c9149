"""The live stream over a real server: updates arrive, and a reconnect resumes without loss or repeats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from hyperhive.core.hive import Hive
from hyperhive.web.config import DashboardConfig, DashboardConfigError
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer

from ..support.hive import AgentConn
from .sse_client import open_stream


@pytest.fixture
async def client(server: DashboardServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        assert (await client.get("/login", params={"token": server.dashboard.token})).status_code == 303
        yield client


async def test_status_changes_arrive_live(client: httpx.AsyncClient, hive: Hive) -> None:
    cursor = (await client.get("/swarm.json")).json()["cursor"]
    async with open_stream(client, {"topics": "status", "after": cursor}) as stream:
        await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
        frame = await stream.next()
        assert frame.event == "status" and frame.data["row"]["name"] == "bob"
        assert frame.data["row"]["state"] == "offline"
        # The peer's own harness connects through its socket: the row goes online.
        conn = AgentConn(hive.settings.agent_socket_dir("bob") / "mcp.sock")
        try:
            await asyncio.to_thread(conn.request, "hello", role="serve")
            while (frame := await stream.next()).data["row"]["state"] != "online":
                pass
        finally:
            conn.close()


async def test_a_reconnect_resumes_after_the_last_event_without_loss_or_repeats(
        client: httpx.AsyncClient, hive: Hive) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    cursor = (await client.get("/flow.json")).json()["cursor"]
    received: list[int] = []
    async with open_stream(client, {"topics": "message", "after": cursor}) as stream:
        for i in range(5):
            await call_verb(hive, {"cmd": "send", "to": "bob", "body": f"m{i}"})
        for _ in range(3):  # read three, then drop the connection
            received.append((await stream.next()).data["id"])
        last_id = stream.last_id
    for i in range(5, 10):  # sent while nobody listens
        await call_verb(hive, {"cmd": "send", "to": "bob", "body": f"m{i}"})
    async with open_stream(client, {"topics": "message", "after": cursor}, last_event_id=last_id) as stream:
        while len(received) < 10:
            received.append((await stream.next()).data["id"])
        await call_verb(hive, {"cmd": "send", "to": "bob", "body": "m10"})
        received.append((await stream.next()).data["id"])
    assert received == list(range(1, 12))


async def test_a_stale_or_foreign_cursor_is_told_to_reload(client: httpx.AsyncClient, server: DashboardServer,
                                                            hive: Hive) -> None:
    async with open_stream(client, {"after": "deadbeef.3"}) as stream:
        frame = await stream.next()
        assert frame.event == "reload" and "another run" in frame.data["why"]
    feed = server.dashboard.feed
    old = str(feed.cursor())
    for i in range(feed._ring.maxlen + 1):  # type: ignore[operator]
        feed.publish("test", {"i": i})
    async with open_stream(client, {"after": old}) as stream:
        assert (await stream.next()).event == "reload"


async def test_a_filtered_stream_is_told_how_far_it_has_read(client: httpx.AsyncClient,
                                                              server: DashboardServer) -> None:
    cursor = str(server.dashboard.feed.cursor())
    async with open_stream(client, {"topics": "status", "after": cursor}) as stream:
        for i in range(300):
            server.dashboard.feed.publish("turn", {"i": i}, ["amy"])
        while (frame := await stream.next(events_only=False)).id is None:
            pass  # the opening `retry:` frame
        assert frame.event is None and int(frame.id.rpartition(".")[2]) >= 256


async def test_event_to_client_latency(client: httpx.AsyncClient, hive: Hive) -> None:
    """Report how long a stored transcript event takes to reach a stream reader (printed with -s)."""
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    cursor = (await client.get("/agents/bob.json")).json()["cursor"]
    samples: list[float] = []
    async with open_stream(client, {"topics": "turn", "agent": "bob", "after": cursor}) as stream:
        for i in range(50):
            started = time.perf_counter()
            await hive.events.append("turn.note", "bob", {"text": f"n{i}"})
            frame = await stream.next()
            samples.append((time.perf_counter() - started) * 1000)
            assert frame.data["items"][0]["text"] == f"n{i}"
    samples.sort()
    print(f"\nevent → SSE reader: p50 {samples[25]:.2f} ms, p95 {samples[47]:.2f} ms, max {samples[-1]:.2f} ms")
    assert samples[25] < 100


async def test_server_binds_refuses_and_closes_cleanly(hive: Hive) -> None:
    exposed = DashboardServer(hive, DashboardConfig("0.0.0.0", 0))
    with pytest.raises(DashboardConfigError, match="HYPERHIVE_DASHBOARD_PROXY"):
        await exposed.start()
    first = DashboardServer(hive, DashboardConfig("127.0.0.1", 0))
    await first.start()
    try:
        busy = DashboardServer(hive, DashboardConfig("127.0.0.1", first.port or 0))
        with pytest.raises(DashboardConfigError, match="cannot listen"):
            await busy.start()
        async with httpx.AsyncClient(base_url=first.url) as client:
            await client.get("/login", params={"token": first.dashboard.token})
            async with open_stream(client, {"topics": "status"}):
                started = time.monotonic()
                await first.close()  # with a stream open: it must not wait for the stream to end
                assert time.monotonic() - started < 2
    finally:
        await first.close()
