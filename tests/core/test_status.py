"""Status rows and the live status subscription."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

from hyperhive.client import AsyncSocketClient
from hyperhive.core import registry as registry_module
from hyperhive.core.hive import Hive

ROW_FIELDS = {"name", "kind", "state", "running", "failed", "paused", "needs_login", "needs_update",
              "deployed_sha", "active_model", "status_text", "status_set_at", "pending_reminders",
              "pending_approvals", "unread", "last_seen", "parent", "url", "description", "isolated",
              "activity", "activity_detail", "context_tokens", "context_window", "cost_usd_24h",
              "budget_exhausted", "turn_cost_usd", "node", "node_offline"}


async def host(hive: Hive, **request: Any) -> dict[str, Any]:
    response = await hive.host_server.handle(None, request)  # type: ignore[arg-type]
    assert response is not None and response["ok"], response
    return response


async def test_row_fields_and_status_text(hive: Hive) -> None:
    await host(hive, cmd="register_peer", name="alice", description="a peer")
    row = (await host(hive, cmd="agent_status"))["agent_statuses"][0]
    assert set(row) == ROW_FIELDS
    assert row["kind"] == "peer" and row["running"] is False and row["state"] == "offline"
    assert row["status_text"] is None and row["status_set_at"] is None
    client = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
    await client.request("hello", role="serve")
    await client.request("set_status", text="compiling")
    row = (await host(hive, cmd="agent_status", names=["alice"]))["agent_statuses"][0]
    assert row["running"] is True and row["state"] == "online"
    assert row["status_text"] == "compiling" and row["status_set_at"].endswith("Z")
    await client.request("set_status", text=None)
    row = (await host(hive, cmd="agent_status", names=["alice"]))["agent_statuses"][0]
    assert row["status_text"] is None and row["status_set_at"] is None
    await client.close()


@contextlib.asynccontextmanager
async def subscribed(hive: Hive) -> AsyncIterator[asyncio.StreamReader]:
    """A status subscription, closed however the test ends (a socket left to the collector would fail
    whichever test runs next, under the suite's strict warning filter)."""
    reader, writer = await asyncio.open_unix_connection(str(hive.settings.host_socket))
    try:
        writer.write(b'{"cmd":"subscribe_agent_status"}\n')
        await writer.drain()
        ack = json.loads(await reader.readline())
        assert ack == {"version": 1, "ok": True}
        yield reader
    finally:
        writer.close()
        await writer.wait_closed()


async def next_line(reader: asyncio.StreamReader) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), 5))
    return line


async def next_row(reader: asyncio.StreamReader, name: str) -> dict[str, Any]:
    while True:
        for row in (await next_line(reader)).get("agent_statuses", []):
            if row["name"] == name:
                return dict(row)


async def test_subscription_pushes_changes(hive: Hive) -> None:
    async with subscribed(hive) as reader:
        await host(hive, cmd="register_peer", name="alice")
        assert (await next_row(reader, "alice"))["running"] is False
        await host(hive, cmd="send", to="alice", body="one")
        assert (await next_row(reader, "alice"))["unread"] == 1
        await host(hive, cmd="set_paused", name="alice", paused=True)
        assert (await next_row(reader, "alice"))["paused"] is True
        await host(hive, cmd="unregister_peer", name="alice")
        # A change announced before the removal (the unread count's, say) may still be on its way: its row
        # comes first. Then the removal, and no row of alice after it.
        line = await next_line(reader)
        while "removed" not in line:
            assert [r["name"] for r in line["agent_statuses"]] == ["alice"], line
            line = await next_line(reader)
        assert line["removed"] == ["alice"]
        await host(hive, cmd="register_peer", name="bob")  # a marker: everything before it has been sent
        line = await next_line(reader)
        while not any(r["name"] == "bob" for r in line.get("agent_statuses", [])):
            assert not any(r["name"] == "alice" for r in line.get("agent_statuses", [])), line
            line = await next_line(reader)


async def test_an_agent_removed_while_its_row_is_read_has_no_row(hive: Hive, monkeypatch: Any) -> None:
    """The unread count is a store read (a round trip on PostgreSQL); an unregister landing meanwhile used
    to make the row fail with not_found, which ended every status stream in an error line."""
    await host(hive, cmd="register_peer", name="alice")
    reading, release = asyncio.Event(), asyncio.Event()
    held = contextvars.ContextVar("held", default=False)  # only the read under test waits, not the daemon's
    count_unacked, unacked_counts = hive.store.count_unacked, hive.store.unacked_counts

    async def hold() -> None:
        if held.get():
            reading.set()
            await release.wait()

    async def slow_count(name: str) -> int:
        await hold()
        return await count_unacked(name)

    async def slow_counts() -> dict[str, int]:
        await hold()
        return await unacked_counts()

    monkeypatch.setattr(hive.store, "count_unacked", slow_count)
    monkeypatch.setattr(hive.store, "unacked_counts", slow_counts)
    for read in (lambda: hive.status_row("alice"), lambda: hive.status_rows()):
        token = held.set(True)
        row = asyncio.ensure_future(read())  # runs in a copy of this context: held
        held.reset(token)
        await asyncio.wait_for(reading.wait(), 5)
        await asyncio.wait_for(host(hive, cmd="unregister_peer", name="alice"), 5)
        release.set()
        assert await asyncio.wait_for(row, 5) in (None, [])
        reading.clear()
        release.clear()
        await host(hive, cmd="register_peer", name="alice")


def _read_rows_until(sock: socket.socket, name: str, unread: int) -> list[dict[str, Any]]:
    """Rows for `name` read off a blocking socket until one says `unread`."""
    rows: list[dict[str, Any]] = []
    with sock.makefile("rb") as lines:
        for line in lines:
            rows += [r for r in json.loads(line).get("agent_statuses", []) if r["name"] == name]
            if rows and rows[-1]["unread"] == unread:
                return rows
    raise AssertionError(f"the stream ended before {name} showed unread={unread}; last rows: {rows[-3:]}")


async def test_slow_subscriber_sees_latest_state_and_never_blocks(hive: Hive) -> None:
    # Long rows (a 2,000-character description), so the burst's rows overflow every socket buffer on the way
    # to a reader that reads nothing: the daemon's writes to it do block.
    await host(hive, cmd="register_peer", name="alice", description="d" * 2000)
    # A subscriber that reads nothing while the burst runs, with a tiny kernel buffer that fills at once.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        await asyncio.to_thread(slow.connect, str(hive.settings.host_socket))
        slow.sendall(b'{"cmd":"subscribe_agent_status"}\n')
        async with subscribed(hive) as fast_reader, asyncio.timeout(60):
            # (a daemon held up by the slow reader would hang here, not pass late)
            for i in range(1000):
                await host(hive, cmd="send", to="alice", body=f"m{i}")
            row = await next_row(fast_reader, "alice")
            while row["unread"] != 1000:  # the other subscriber is not held up either
                row = await next_row(fast_reader, "alice")
        slow.settimeout(30)
        rows = await asyncio.to_thread(_read_rows_until, slow, "alice", 1000)  # the latest state does arrive…
        assert len(rows) < 500, f"{len(rows)} rows: a slow reader should get coalesced changes, not every one"


async def test_peer_presence_by_heartbeat_window(hive: Hive, monkeypatch: Any) -> None:
    monkeypatch.setattr(registry_module, "PRESENCE_WINDOW_SECONDS", 0.3)
    await host(hive, cmd="register_peer", name="alice")
    async with subscribed(hive) as reader:
        client = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
        await client.request("heartbeat")
        await client.close()  # a connection without hello does not make the agent present…
        row = await next_row(reader, "alice")
        assert row["running"] is True  # …but the heartbeat does, for the window
        row = await next_row(reader, "alice")
        while row["running"]:
            row = await next_row(reader, "alice")
        assert row["state"] == "offline"  # announced by the window's timer, without anyone asking
