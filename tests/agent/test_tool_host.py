"""The hyperhive tools hosted once per harness (issue 17, item 1): a turn's CLI reaches them over HTTP on the
loopback, with the harness's token, instead of starting `hive-ag3nt mcp` for every turn."""

from __future__ import annotations

import asyncio
import inspect
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hyperhive.agent.tool_host import Endpoint, ToolHost
from hyperhive.agent.tools import hive_tools, sdk_server
from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from hyperhive.store import AgentRecord
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

from .loop_support import Watch, harness, send, settled

SEND = "mcp__hyperhive__send"


@pytest.mark.claude
@pytest.mark.parametrize("api_over", ["tcp", "unix"])
async def test_turns_use_the_resident_tools_and_their_calls_act_as_the_agent(hive: Hive, claude_bin: str,
                                                                          short_tmp: Path, api_over: str) -> None:
    """Also with the API behind ANTHROPIC_UNIX_SOCKET (a private-network agent): the CLI's MCP requests to
    127.0.0.1 must not be sent down the API's socket."""
    watch = Watch(hive)
    with ScriptedApi(unix_socket=short_tmp / "api.sock" if api_over == "unix" else None) as api:
        env = api.unix_env() if api_over == "unix" else {}
        api.script(reply.tool_use(SEND, {"to": "operator", "body": "first"}), reply.text("done"),
                   reply.tool_use(SEND, {"to": "operator", "body": "second"}), reply.text("done"))
        async with harness(hive, api, claude_bin, short_tmp, **env) as loop:
            await send(hive, "one")
            await watch.until(lambda: len(watch.turn_ends()) == 1)
            await send(hive, "two")
            await watch.until(lambda: len(watch.turn_ends()) == 2)
            await settled(hive)
            entry = json.loads((short_tmp / "alice/.hive/mcp.json").read_text())["mcpServers"]["hyperhive"]
            assert entry["type"] == "http" and entry["url"].startswith("http://127.0.0.1:")
            assert loop.tools is not None
            assert entry == (await loop.tools.endpoint()).mcp_entry()  # one server for both turns
    assert [e["kind"] for e in watch.turn_ends()] == ["ok", "ok"]
    inbox = await hive.store.unacked_messages(OPERATOR, limit=10)
    assert [(m.sender, m.body) for m in inbox] == [("alice", "first"), ("alice", "second")]


async def test_the_hosted_tools_refuse_a_caller_without_the_token(hive: Hive, short_tmp: Path) -> None:
    await hive.registry.add(AgentRecord(name="alice", kind="managed", created_at=0.0))
    await hive.agent_sockets.open("alice")
    host = ToolHost(hive.settings.agent_socket_dir("alice") / "mcp.sock", short_tmp / "pulled.jsonl")
    try:
        endpoint = await host.endpoint()
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()

        auth = {"authorization": f"Bearer {endpoint.token}"}

        def post(headers: dict[str, str], data: bytes | None = body, method: str = "POST",
                 url: str = endpoint.url) -> int:
            request = urllib.request.Request(url, data, {
                "content-type": "application/json", "accept": "application/json, text/event-stream", **headers},
                method=method)
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    text = answer.read().decode()
                    assert "send" in text if answer.status == 200 else text == ""
                    return int(answer.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        assert await asyncio.to_thread(post, {}) == 401
        assert await asyncio.to_thread(post, {"authorization": "Bearer wrong"}) == 401
        assert await asyncio.to_thread(post, auth) == 200
        assert await asyncio.to_thread(post, auth, None, "GET") == 405  # no server stream: stateless
        assert await asyncio.to_thread(post, auth, url=endpoint.url + "x") == 404
        note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
        assert await asyncio.to_thread(post, auth, note) == 202
    finally:
        await host.close()


async def test_the_hosted_tools_match_the_sdk_server_and_carry_hive_errors(hive: Hive, short_tmp: Path) -> None:
    """The harness serves the tools without the SDK (mcp_http.py); the model must see the same tools as a
    peer's `hive-ag3nt mcp` (the SDK's server) shows, and a refusal from the hive as the tool's error."""
    await hive.registry.add(AgentRecord(name="alice", kind="managed", created_at=0.0))
    await hive.agent_sockets.open("alice")
    socket = hive.settings.agent_socket_dir("alice") / "mcp.sock"
    host = ToolHost(socket, short_tmp / "pulled.jsonl")
    try:
        endpoint = await host.endpoint()
        hosted = await asyncio.to_thread(rpc, endpoint, "tools/list", {})
        peer = await hive_tools(socket)
        sdk = [t.model_dump(mode="json", by_alias=True, exclude_none=True)
               for t in await sdk_server(peer).list_tools()]
        await peer.client.close()
        # The same tools and schemas; the SDK sends a docstring's indentation along, the harness does not.
        assert [(t["name"], t["description"], t["inputSchema"]) for t in hosted["tools"]] == [
            (t["name"], inspect.cleandoc(t["description"]), t["inputSchema"]) for t in sdk]
        refused = await asyncio.to_thread(rpc, endpoint, "tools/call", {"name": "send", "arguments": {
            "to": "nobody", "body": "hi"}})
        assert refused["isError"] and "nobody" in refused["content"][0]["text"]
        bad = await asyncio.to_thread(rpc, endpoint, "tools/call", {"name": "send", "arguments": {"to": "x"}})
        assert bad["isError"] and "body" in bad["content"][0]["text"]
        sent = await asyncio.to_thread(rpc, endpoint, "tools/call", {"name": "send", "arguments": {
            "to": "operator", "body": "hello"}})
        assert not sent["isError"] and sent["content"][0]["text"].startswith("sent #")
    finally:
        await host.close()


def rpc(endpoint: Endpoint, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).encode()
    request = urllib.request.Request(endpoint.url, body, {"content-type": "application/json",
                                                          "authorization": f"Bearer {endpoint.token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        got = json.loads(answer.read())
    assert got["id"] == 7
    result: dict[str, Any] = got["result"]
    return result


async def test_tools_cancelled_while_saying_hello_close_their_hive_connection(short_tmp: Path) -> None:
    """A harness stopping while its tool server starts cancels `hive_tools` mid-hello: the connection it
    opened must close then (left to the collector, it outlived its loop as a ResourceWarning)."""
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    over = asyncio.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(reader)  # the test reads what the tools send
        await over.wait()
        writer.close()

    server = await asyncio.start_unix_server(never_answers, str(short_tmp / "mcp.sock"))
    try:
        starting = asyncio.create_task(hive_tools(short_tmp / "mcp.sock"))
        reader = await asyncio.wait_for(accepted.get(), 10)
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b'{"cmd":"hello"')
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
        assert await asyncio.wait_for(reader.read(), 10) == b""  # end of stream: the tools hung up
    finally:
        over.set()
        server.close()
        await server.wait_closed()


async def test_closing_the_tool_server_closes_a_clis_idle_keepalive_connection(hive: Hive, short_tmp: Path) -> None:
    """A turn's CLI keeps its HTTP connection open between calls; closing the server must close it too, not
    leave it open past the harness (Python 3.11's Server.close leaves accepted connections alone)."""
    await hive.registry.add(AgentRecord(name="alice", kind="managed", created_at=0.0))
    await hive.agent_sockets.open("alice")
    host = ToolHost(hive.settings.agent_socket_dir("alice") / "mcp.sock", short_tmp / "pulled.jsonl")
    try:
        endpoint = await host.endpoint()
        port = int(endpoint.url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
        writer.write(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {endpoint.token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                     + body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(
            b"content-length")))
        await reader.readexactly(length)  # the answer read whole: the connection is idle, kept alive
    finally:
        await host.close()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the server hung up
    writer.close()
