"""The gateway's relay on the wire: keep-alive on the agent's socket and to the API, an agent that hangs up
mid-answer, an API that fails mid-answer, a kept API connection gone stale, bad HTTP, and the credential
swap. The gateway is the real one (its own socket, a real SQLite store); the API is a double at the wire's
edge that speaks HTTP/1.1 with keep-alive and chunked SSE as the real API does, which the scripted API
(HTTP/1.0, one answer per connection) does not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import h11
import pytest

from hyperhive.config.host_policy import HiveBudget
from hyperhive.config.sections import Budget
from hyperhive.gateway.budgets import Exhausted, Limits
from hyperhive.gateway.clock import SystemClock
from hyperhive.gateway.server import Gateway
from hyperhive.gateway.spend import Spend, SpendHooks
from hyperhive.gateway.upstream import Address, ignored_proxy
from hyperhive.store import Store
from hyperhive.store.auto import open_store
from hyperhive.store.usage import UsageTotal
from tests.support.api_replies import Reply, message_json, sse_events
from tests.support.hive import settings_for

HIVE_KEY = "sk-ant-hive-key"
REPLY = Reply(text="word " * 50, input_tokens=1200, output_tokens=100, cache_read_tokens=7)
EVENTS = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
          for name, data in sse_events(REPLY, "claude-sonnet-4-5", "msg_1")]
STREAM = b"".join(EVENTS)
JSON = json.dumps(message_json(REPLY, "claude-haiku-4-5", "msg_2")).encode()
BODY = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
                   "messages": [{"role": "user", "content": "hello"}]}).encode()


@dataclass
class KeepAliveApi:
    """`mode`: "whole" answers in full; "cut" closes the connection after the first event; "hold" sends the
    first event and waits for the gateway to hang up; "drop" answers in full, then closes the idle connection
    without a word (as servers do with kept connections); "stale" answers a connection's first request only,
    and closes it on the next one unanswered (a server that dropped it just as the request went out); "json"
    answers one JSON message with a content-length (a non-streaming call)."""

    path: Path
    mode: str = "whole"
    connections: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        answered = False
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    if not data and self.mode == "hold" and conn.our_state is h11.SEND_BODY:
                        self.hung_up.set()
                        return
                    conn.receive_data(data)
                elif isinstance(event, h11.Request):
                    self.headers.append({k.decode(): v.decode() for k, v in event.headers})
                elif isinstance(event, h11.EndOfMessage):
                    if self.mode == "stale" and answered:
                        return
                    answered = True
                    if self.mode == "json":
                        writer.write(conn.send(h11.Response(status_code=200, headers=[
                            ("content-type", "application/json"), ("content-length", str(len(JSON)))])) or b"")
                        writer.write(conn.send(h11.Data(data=JSON)) or b"")
                        writer.write(conn.send(h11.EndOfMessage()) or b"")
                        conn.start_next_cycle()
                        continue
                    writer.write(conn.send(h11.Response(status_code=200,
                                                       headers=[("content-type", "text/event-stream")])) or b"")
                    if self.mode in ("cut", "hold"):
                        writer.write(conn.send(h11.Data(data=EVENTS[0])) or b"")
                        await writer.drain()
                        if self.mode == "cut":
                            return
                        continue  # "hold": wait for the gateway to close this connection
                    writer.write(conn.send(h11.Data(data=STREAM)) or b"")
                    writer.write(conn.send(h11.EndOfMessage()) or b"")
                    await writer.drain()
                    if self.mode == "drop":
                        return
                    conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        finally:
            writer.close()


@dataclass
class Rig:
    gateway: Gateway
    api: KeepAliveApi
    store: Store
    socket: Path

    async def totals(self) -> list[UsageTotal]:
        await self.gateway.spend.settle()
        return await self.store.usage_totals("agent", 0)


async def _no_limits(name: str) -> Limits:
    return Budget()


async def _nothing(name: str, found: Exhausted | None = None) -> None:
    return None


@pytest.fixture
async def rig(short_tmp: Path) -> AsyncIterator[Rig]:
    api = KeepAliveApi(short_tmp / "api.sock")
    server = await asyncio.start_unix_server(api.serve, path=str(api.path))
    (short_tmp / "agents" / "alice").mkdir(parents=True)
    store = open_store(settings_for(short_tmp).database, short_tmp / "hive.db")  # the run's backend
    await store.open()
    spend = Spend(store, SystemClock(), SpendHooks(_no_limits, HiveBudget, _nothing, _nothing, lambda name: None))
    gateway = Gateway(short_tmp, {"ANTHROPIC_UNIX_SOCKET": str(api.path), "ANTHROPIC_API_KEY": HIVE_KEY}, spend)
    await gateway.open("alice")
    try:
        yield Rig(gateway, api, store, gateway.socket_path("alice"))
    finally:
        await gateway.close_all()
        await spend.close()
        await store.close()
        server.close()


class Agent:
    """One connection to the agent's socket, as the CLI keeps it: h11 as the client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def connect(cls, path: Path) -> Agent:
        return cls(*await asyncio.open_unix_connection(str(path)))

    async def send(self, key: str = "hive-gateway", body: bytes = BODY) -> None:
        self.writer.write(self.h11.send(h11.Request(method="POST", target="/v1/messages", headers=[
            ("host", "hive-gateway"), ("x-api-key", key), ("content-type", "application/json"),
            ("content-length", str(len(body)))])) or b"")
        self.writer.write(self.h11.send(h11.Data(data=body)) or b"")
        self.writer.write(self.h11.send(h11.EndOfMessage()) or b"")

    async def event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while (event := self.h11.next_event()) is h11.NEED_DATA:
            self.h11.receive_data(await self.reader.read(65536))
        return event

    async def answer(self) -> tuple[int, bytes]:
        """The whole answer; h11 raises if it ends before its end (a cut-off chunked body)."""
        head = await self.event()
        assert isinstance(head, h11.Response), head
        return head.status_code, await self.answer_body()

    async def answer_body(self) -> bytes:
        body = b""
        while isinstance(event := await self.event(), h11.Data):
            body += event.data
        assert isinstance(event, h11.EndOfMessage), event
        return body

    async def call(self, key: str = "hive-gateway") -> tuple[int, bytes]:
        await self.send(key)
        answer = await self.answer()
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return answer

    def close(self) -> None:
        self.writer.close()


async def test_calls_share_one_agent_connection_and_one_api_connection_byte_for_byte(rig: Rig) -> None:
    agent = await Agent.connect(rig.socket)
    try:
        for _ in range(3):
            assert await agent.call() == (200, STREAM)  # the stream unchanged, on one kept connection
    finally:
        agent.close()
    assert rig.api.connections == 1  # the gateway kept its connection to the API too
    assert [h["x-api-key"] for h in rig.api.headers] == [HIVE_KEY] * 3
    (total,) = await rig.totals()
    assert (total.calls, total.input_tokens, total.output_tokens, total.cache_read_tokens) == (3, 3600, 300, 21)


async def test_a_json_answer_keeps_its_length_and_is_metered(rig: Rig) -> None:
    rig.api.mode = "json"
    agent = await Agent.connect(rig.socket)
    try:
        for _ in range(2):
            await agent.send()
            head = await agent.event()
            assert isinstance(head, h11.Response) and (b"content-length", str(len(JSON)).encode()) in head.headers
            assert await agent.answer_body() == JSON
            agent.h11.start_next_cycle()
    finally:
        agent.close()
    assert rig.api.connections == 1
    (total,) = await rig.totals()
    assert (total.calls, total.input_tokens, total.output_tokens, total.cache_read_tokens) == (2, 2400, 200, 14)


async def test_closing_an_agents_socket_mid_answer_ends_its_calls(rig: Rig) -> None:
    rig.api.mode = "hold"
    agent = await Agent.connect(rig.socket)
    await agent.send()
    assert isinstance(await agent.event(), h11.Response)
    await asyncio.wait_for(rig.gateway.close("alice"), 10)  # the agent was stopped mid-call
    await asyncio.wait_for(rig.api.hung_up.wait(), 10)  # ... and its call to the API ended with it
    assert not rig.socket.exists()
    with pytest.raises(h11.RemoteProtocolError):  # cut off, not ended as if complete
        await agent.answer_body()
    agent.close()


async def test_an_agents_own_login_passes_through(rig: Rig) -> None:
    agent = await Agent.connect(rig.socket)
    try:
        assert (await agent.call(key="sk-ant-agents-own"))[0] == 200
    finally:
        agent.close()
    assert rig.api.headers[0]["x-api-key"] == "sk-ant-agents-own"
    assert rig.api.headers[0]["accept-encoding"] == "identity"  # the meter reads the answer as it passes


async def test_a_kept_api_connection_the_api_dropped_is_replaced(rig: Rig) -> None:
    rig.api.mode = "drop"
    agent = await Agent.connect(rig.socket)
    try:
        for _ in range(3):
            assert await agent.call() == (200, STREAM)
    finally:
        agent.close()
    assert rig.api.connections == 3


async def test_a_request_on_a_kept_connection_the_api_dropped_unanswered_is_sent_again_on_a_new_one(
    rig: Rig
) -> None:
    rig.api.mode = "stale"
    agent = await Agent.connect(rig.socket)
    try:
        for _ in range(3):
            assert await agent.call() == (200, STREAM)
    finally:
        agent.close()
    assert (rig.api.connections, len(rig.api.headers)) == (3, 5)  # calls 2 and 3 each went out twice


async def test_an_agent_hanging_up_mid_answer_ends_the_api_call_and_counts_what_was_seen(rig: Rig) -> None:
    rig.api.mode = "hold"
    agent = await Agent.connect(rig.socket)
    await agent.send()
    head = await agent.event()
    assert isinstance(head, h11.Response) and head.status_code == 200
    first = await agent.event()
    assert isinstance(first, h11.Data) and bytes(first.data) == EVENTS[0]
    agent.close()  # the CLI gave up (Esc, a timeout) mid-stream
    await asyncio.wait_for(rig.api.hung_up.wait(), 30)  # the gateway stopped the API's generation too
    (total,) = await rig.totals()
    assert (total.calls, total.input_tokens, total.output_tokens) == (1, 1200, 1)  # message_start's counts
    rig.api.mode = "whole"
    again = await Agent.connect(rig.socket)
    try:
        assert await again.call() == (200, STREAM)  # the gateway serves on
    finally:
        again.close()


async def test_an_api_failing_mid_answer_cuts_the_agents_answer_and_counts_what_was_seen(rig: Rig) -> None:
    rig.api.mode = "cut"
    agent = await Agent.connect(rig.socket)
    try:
        await agent.send()
        with pytest.raises(h11.RemoteProtocolError):  # cut off, never ended as if complete
            await agent.answer()
    finally:
        agent.close()
    (total,) = await rig.totals()
    assert (total.calls, total.input_tokens, total.output_tokens) == (1, 1200, 1)
    rig.api.mode = "whole"
    again = await Agent.connect(rig.socket)
    try:
        assert await again.call() == (200, STREAM)
    finally:
        again.close()


async def test_bad_http_gets_a_clear_400_and_an_unreachable_api_a_502(rig: Rig, short_tmp: Path) -> None:
    reader, writer = await asyncio.open_unix_connection(str(rig.socket))
    writer.write(b"HELLO THERE\r\n\r\n")
    answer = await reader.read()  # the gateway answers and closes
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["error"]["type"] == "invalid_request_error"

    rig.api.path.unlink()  # nobody at the API's address any more
    rig.gateway._pool.close()
    agent = await Agent.connect(rig.socket)
    try:
        status, raw = await agent.call()
    finally:
        agent.close()
    assert status == 502 and json.loads(raw)["error"]["message"].startswith("hive gateway: the API could not be")


def test_a_proxy_the_gateway_would_go_around_is_named() -> None:
    api = Address.of("https://api.anthropic.com", None)
    assert ignored_proxy({"HTTPS_PROXY": "http://proxy:3128"}, api) == "HTTPS_PROXY"
    assert ignored_proxy({"all_proxy": "socks5://p"}, api) == "all_proxy"
    assert ignored_proxy({"HTTP_PROXY": "http://proxy:3128"}, api) is None  # not for an https API
    assert ignored_proxy({"HTTPS_PROXY": "http://p", "NO_PROXY": "localhost,.anthropic.com"}, api) is None
    assert ignored_proxy({"HTTPS_PROXY": "http://p"}, Address.of("https://x", "/run/api.sock")) is None
