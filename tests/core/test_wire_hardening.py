"""What a hostile client or a bad input found (issue 13, defects 3 and 5 to 12): each is answered with a code
and a sentence, never `internal`, never a dropped connection, never unbounded memory in the daemon."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hyperhive.core.hive import Hive
from hyperhive.protocol import MAX_LINE_BYTES
from hyperhive.web.auth import Sessions
from tests.support.hive import AgentConn, HiveProcess

INT64_MAX = 2**63 - 1
TOO_BIG = INT64_MAX + 1
AGENT_MAX_CONNECTIONS = 32


def exchange(path: Path, data: bytes, answers: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Send raw bytes on a fresh connection and read `answers` response lines."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(data)
        with sock.makefile("rb") as stream:  # closed even when a read fails: no socket left to the gc
            return [json.loads(stream.readline()) for _ in range(answers)]


def one(path: Path, obj: dict[str, Any] | bytes) -> dict[str, Any]:
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode() + b"\n"
    return exchange(path, data)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- defect 3: what one agent can make the daemon hold ---------------------------------------------
def test_an_agent_socket_takes_a_bounded_number_of_connections(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    path = hive_proc.agent_socket("alice")
    held = [AgentConn(path) for _ in range(AGENT_MAX_CONNECTIONS)]
    try:
        assert held[-1].request("whoami")["ok"]  # all of them are served
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as extra:
            extra.settimeout(20)
            extra.connect(str(path))
            with extra.makefile("rb") as stream:
                refused = json.loads(stream.readline())
                assert stream.readline() == b""  # and closed
        assert refused["code"] == "limit" and "connections" in refused["error"]
        held.pop().close()
        assert one(path, {"cmd": "whoami"})["ok"]  # a closed one frees its place at once
    finally:
        for conn in held:
            conn.close()
    assert "refused a connection" in hive_proc.log_text()


async def test_a_closed_connection_frees_its_place_before_it_has_ended(
        short_tmp: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The daemon may still be ending a connection its client closed (its `on_close` writes to the store):
    a client that closes one and connects again at once is served, not refused. Those ending are bounded
    too: they may at most double what the socket holds. Closing the server while some are still ending
    logs no error."""
    import asyncio

    from hyperhive.core.lineserver import LineLimits, UnixLineServer

    ending = asyncio.Event()

    async def echo(conn: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async def slow_close(conn: Any) -> None:
        await ending.wait()

    path = short_tmp / "s.sock"
    server = UnixLineServer(path, echo, limits=LineLimits(max_connections=2), on_close=slow_close)
    await server.start()
    loop = asyncio.get_running_loop()
    served: list[socket.socket] = []
    refused: list[socket.socket] = []

    async def connect() -> str:
        """Connect, ask, and say whether the socket served or refused; a closed socket closes at once."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, str(path))
        await loop.sock_sendall(sock, b'{"cmd":"ping"}\n')
        line = b""
        while not line.endswith(b"\n"):
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), 10)
            assert chunk, "closed without an answer"
            line += chunk
        answer = json.loads(line)
        (served if answer.get("ok") else refused).append(sock)
        return "served" if answer.get("ok") else answer["code"]

    try:
        assert [await connect(), await connect(), await connect()] == ["served", "served", "limit"]
        for _ in range(2):  # close one (its on_close hangs) and connect again at once: served
            served.pop(0).close()
            assert await connect() == "served"
        assert server.connections == 4  # two live, two ending
        served.pop(0).close()
        assert await connect() == "limit"  # one live, but twice the limit held: those ending are bounded too
    finally:
        for sock in served + refused:
            sock.close()
        # Closing cancels the three still in their on_close, and waits for the rest to end theirs.
        closing = asyncio.ensure_future(server.close())
        await asyncio.sleep(0)  # one loop turn: close's first step (which cancels them all) runs before ours
        ending.set()
        await asyncio.wait_for(closing, 10)
    assert server.connections == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def test_many_partial_lines_do_not_grow_the_daemon(hive_proc: HiveProcess) -> None:
    """The probe's attack: 150 connections to one agent socket, each holding a partial line of ~1 MB."""
    hive_proc.host.request("register_peer", name="alice")
    path = hive_proc.agent_socket("alice")
    assert hive_proc.proc is not None
    pid = hive_proc.proc.pid
    before = rss_kib(pid)
    partial = b'{"cmd":"send","to":"alice","body":"' + b"a" * 1_000_000
    socks = []
    try:
        for _ in range(150):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(str(path))
            socks.append(sock)
            with contextlib.suppress(OSError):  # refused: the daemon closed it
                sock.sendall(partial)
        during = rss_kib(pid)
        assert hive_proc.host.request("list")["ok"]
    finally:
        for sock in socks:
            sock.close()
    assert one(path, {"cmd": "whoami"})["ok"]
    after = rss_kib(pid)
    print(f"daemon RSS: before {before} KiB, holding {during} KiB, after {after} KiB")
    # 150 MB sent; at most 4 lines' worth (the socket's pending budget) plus small buffers may be held.
    assert during - before < 48 * 1024, (before, during)
    assert after - before < 48 * 1024, (before, after)
    assert "unfinished lines" in hive_proc.log_text()


async def test_a_line_begun_must_end_in_time(short_tmp: Path) -> None:
    """Slowloris: a byte now and then keeps no line open past the limit; a quiet connection between lines
    is fine."""
    import asyncio

    from hyperhive.core.lineserver import LineLimits, UnixLineServer

    async def echo(conn: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "echo": obj}

    server = UnixLineServer(short_tmp / "s.sock", echo, limits=LineLimits(line_seconds=0.5))
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(short_tmp / "s.sock"))
        writer.write(b'{"a":1}\n')
        assert json.loads(await reader.readline())["echo"] == {"a": 1}
        await asyncio.sleep(0.8)  # quiet between lines: not a begun line
        writer.write(b'{"a":2}\n')
        assert json.loads(await reader.readline())["echo"] == {"a": 2}
        refusal = asyncio.ensure_future(reader.readline())
        began = time.monotonic()
        for _ in range(100):  # a byte every 0.1 s: still cut at 0.5 s after the first
            try:
                writer.write(b" ")
                await writer.drain()
            except ConnectionError:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(refusal), 0.1)
            if refusal.done():
                break
        refused = json.loads(await asyncio.wait_for(refusal, 10))
        assert time.monotonic() - began >= 0.5
        assert refused["code"] == "limit" and "not ended within 0.5 s" in refused["error"]
        # closed: an end of stream, or the broken pipe of a byte written after the close
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    finally:
        await server.close()


async def test_a_line_does_not_age_while_the_request_before_it_runs(short_tmp: Path) -> None:
    """A client that sends a request and the start of the next at once is not cut off because the first
    took longer than the line limit to answer (a `recv` that waits)."""
    import asyncio

    from hyperhive.core.lineserver import LineLimits, UnixLineServer

    released = asyncio.Event()

    async def slow(conn: Any, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("slow"):
            await released.wait()
        return {"ok": True, "echo": obj}

    server = UnixLineServer(short_tmp / "s.sock", slow, limits=LineLimits(line_seconds=0.5))
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(short_tmp / "s.sock"))
        writer.write(b'{"slow":true}\n{"n":')
        await writer.drain()
        await asyncio.sleep(1.0)  # longer than the line limit, while the first request runs
        released.set()
        assert json.loads(await asyncio.wait_for(reader.readline(), 10))["echo"] == {"slow": True}
        writer.write(b"2}\n")
        assert json.loads(await asyncio.wait_for(reader.readline(), 10))["echo"] == {"n": 2}
        writer.close()
    finally:
        await server.close()


async def test_unfinished_lines_share_one_budget_per_socket(short_tmp: Path) -> None:
    import asyncio

    from hyperhive.core.lineserver import LineLimits, UnixLineServer

    async def echo(conn: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    path = short_tmp / "s.sock"
    server = UnixLineServer(path, echo, limits=LineLimits(max_pending_bytes=300_000))
    await server.start()
    try:
        r1, w1 = await asyncio.open_unix_connection(str(path))
        r2, w2 = await asyncio.open_unix_connection(str(path))
        w1.write(b'{"x":"' + b"a" * 200_000)
        await w1.drain()
        w2.write(b'{"x":"' + b"b" * 200_000)
        with contextlib.suppress(ConnectionError):  # the daemon may close it before it has all of it
            await w2.drain()
        refused = json.loads(await asyncio.wait_for(r2.readline(), 10))
        assert refused["code"] == "limit" and "unfinished lines" in refused["error"]
        w1.write(b'"}\n')  # the first one finishes its line and is served
        assert json.loads(await asyncio.wait_for(r1.readline(), 10))["ok"] is True
        for w in (w1, w2):
            w.close()
    finally:
        await server.close()


def test_host_socket_limits_are_wider_than_an_agents() -> None:
    from hyperhive.core.lineserver import AGENT_LIMITS, HOST_LIMITS

    assert AGENT_LIMITS.max_connections == AGENT_MAX_CONNECTIONS
    assert HOST_LIMITS.max_connections > AGENT_LIMITS.max_connections
    assert AGENT_LIMITS.max_line_bytes == MAX_LINE_BYTES


# --- defect 5: harness_state and every other text has a bound ---------------------------------------
def test_harness_state_fields_are_bounded(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    path = hive_proc.agent_socket("alice")
    for fields, where in [({"model": "m" * 100_000}, "model"), ({"session_id": "s" * 10_000}, "session_id"),
                          ({"session_id": "../../etc"}, "session_id"), ({"detail": "d" * 10_000}, "detail")]:
        answer = one(path, {"cmd": "harness_state", "activity": "idle", **fields})
        assert answer["code"] == "bad_request" and where in answer["error"], answer
    row = hive_proc.host.request("agent_status", names=["alice"])["agent_statuses"][0]
    assert row["active_model"] is None
    assert one(path, {"cmd": "harness_state", "activity": "idle", "model": "claude-opus-4-1[1m]"})["ok"]


@pytest.mark.parametrize("line", [
    {"cmd": "send", "to": "x" * 5000, "body": "hi"},
    {"cmd": "events", "kinds": ["k" * 5000]},
    {"cmd": "pending", "kind": "k" * 5000},
    {"cmd": "create_schedule", "targets": ["alice"] * 500, "body": "hi", "first_fire_at": 0},
    {"cmd": "agent_status", "names": ["alice"] * 5000},
    {"cmd": "list", "req_id": "r" * 5000},
], ids=lambda line: line["cmd"])
def test_host_texts_and_lists_are_bounded(hive_proc: HiveProcess, line: dict[str, Any]) -> None:
    hive_proc.host.request("register_peer", name="alice")
    answer = one(hive_proc.settings.host_socket, line)
    assert answer["code"] == "bad_request", answer
    assert "req_id" not in answer  # a req_id too long to be one is not echoed


# --- defect 6: ids past int64 ------------------------------------------------------------------------
HOST_ID_LINES = [
    {"cmd": "approve", "id": TOO_BIG},
    {"cmd": "deny", "id": TOO_BIG},
    {"cmd": "show_approval", "id": TOO_BIG},
    {"cmd": "answer", "id": TOO_BIG, "answer": "yes"},
    {"cmd": "cancel_question", "id": TOO_BIG},
    {"cmd": "cancel_reminder", "id": TOO_BIG},
    {"cmd": "update_schedule", "id": TOO_BIG},
    {"cmd": "set_schedule_paused", "id": TOO_BIG, "paused": True},
    {"cmd": "cancel_schedule", "id": TOO_BIG},
    {"cmd": "fire_schedule", "id": TOO_BIG},
    {"cmd": "ack", "ids": [TOO_BIG]},
    {"cmd": "send", "to": "alice", "body": "hi", "in_reply_to": TOO_BIG},
    {"cmd": "recent", "before_id": TOO_BIG},
    {"cmd": "events", "after_seq": TOO_BIG},
    {"cmd": "approve", "id": -TOO_BIG},
    {"cmd": "approve", "id": 10**4000},
]
AGENT_ID_LINES = [
    {"cmd": "answer", "id": TOO_BIG, "answer": "yes"},
    {"cmd": "ack", "ids": [TOO_BIG]},
    {"cmd": "cancel_loose_end", "kind": "question", "id": TOO_BIG},
    {"cmd": "cancel_schedule", "id": TOO_BIG},
    {"cmd": "fire_schedule_now", "id": TOO_BIG},
    {"cmd": "send", "to": "bob", "body": "hi", "in_reply_to": TOO_BIG},
    {"cmd": "send_batch", "messages": [{"to": "bob", "body": "hi", "in_reply_to": TOO_BIG}]},
    {"cmd": "hello", "role": "cli", "pid": TOO_BIG},
    {"cmd": "remind", "message": "m", "at": 1e300},
    {"cmd": "remind", "message": "m", "delay_seconds": 1e300},
    {"cmd": "remind", "message": "m", "at": "0001-01-01T00:00:00+23:59"},
    {"cmd": "ask", "question": "q", "ttl_seconds": 1e300},
    {"cmd": "request_schedule_prompt", "targets": ["bob"], "body": "b", "first_fire_at": 1e300},
    {"cmd": "request_schedule_prompt", "targets": ["bob"], "body": "b", "first_fire_at": 0,
     "interval_seconds": 1e300},
]


def test_ids_past_int64_are_bad_requests(hive_proc: HiveProcess) -> None:
    for name in ("alice", "bob"):
        hive_proc.host.request("register_peer", name=name)
    for line in HOST_ID_LINES:
        answer = one(hive_proc.settings.host_socket, line)
        assert answer["code"] in ("bad_request", "bad_json"), (line, answer)
    for line in AGENT_ID_LINES:
        answer = one(hive_proc.agent_socket("alice"), line)
        assert answer["code"] == "bad_request", (line, answer)
    assert "Traceback" not in hive_proc.log_text()


def test_every_id_field_is_bounded() -> None:
    """Every int field of every request model has an upper bound within int64 (one Id/Cursor type)."""
    from hyperhive.protocol.agent_requests import AGENT_REQUEST
    from hyperhive.protocol.host_requests import HOST_REQUEST

    unbounded = []
    for adapter in (HOST_REQUEST, AGENT_REQUEST):
        for name, model in adapter.json_schema()["$defs"].items():
            for field, spec in model.get("properties", {}).items():
                unbounded += [f"{name}.{field}" for leaf in _leaves(spec)
                              if leaf.get("type") == "integer" and leaf.get("maximum", TOO_BIG) > INT64_MAX]
    assert unbounded == []


def _leaves(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = [spec]
    for key in ("anyOf", "oneOf"):
        for sub in spec.get(key, []):
            found += _leaves(sub)
    if isinstance(spec.get("items"), dict):
        found += _leaves(spec["items"])
    return found


# --- defects 7 and 8: JSON the hive cannot hold ------------------------------------------------------
@pytest.mark.parametrize(("line", "sentence"), [
    (b'{"cmd":"list","req_id":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "nests deeper"),
    (b'{"cmd":"list","x":' + b"[" * 150 + b"]" * 150 + b"}\n", "nests deeper"),
    (b'{"cmd":"list","req_id":"\\ud800"}\n', "lone surrogate"),
    (b'{"cmd":"list","req_id":"\xed\xa0\x80"}\n', "lone surrogate"),
    (b'{"cmd":"send","to":"alice","body":"\\udfff"}\n', "lone surrogate"),
    (b'{"cmd":"\\ud800"}\n', "lone surrogate"),
    (b'{"\\ud800":1,"cmd":"list"}\n', "lone surrogate"),
    (b'{"cmd":"list","x":NaN}\n', "NaN"),
    (b'{"cmd":"list","x":1e999}\n', "too large"),
    (b'{"cmd":"list","x":' + b"1" * 5000 + b"}\n", "not valid JSON"),
], ids=["deep", "deeper-than-100", "surrogate-req-id", "surrogate-utf8", "surrogate-body", "surrogate-cmd",
        "surrogate-key", "nan", "inf", "huge-int"])
def test_unholdable_json_is_bad_json_and_the_connection_serves_on(hive_proc: HiveProcess, line: bytes,
                                                                 sentence: str) -> None:
    hive_proc.host.request("register_peer", name="alice")
    for path in (hive_proc.settings.host_socket, hive_proc.agent_socket("alice")):
        first, second = exchange(path, line + b'{"cmd":"whoami"}\n{"cmd":"ping"}\n', answers=2)
        assert first["code"] == "bad_json" and sentence in first["error"], first
        assert "req_id" not in first
        assert second["ok"] or second["code"] == "unknown_cmd"  # whoami: agent side, ping: host side


# --- defect 9 (and the sweep of every query parameter): see tests/web/test_params.py ----------------


# --- defect 10: a refused dashboard refuses before anything is made --------------------------------
def test_a_non_loopback_dashboard_is_refused_before_any_socket(short_tmp: Path) -> None:
    proc = HiveProcess(short_tmp)
    result = subprocess.run(
        [sys.executable, "-m", "hyperhive.cli.c0re", "run"], capture_output=True, text=True, timeout=60,
        env={**proc.env, "HYPERHIVE_DASHBOARD": "0.0.0.0:7999"})
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "without TLS" in result.stderr
    assert not proc.settings.host_socket.exists()
    assert not (proc.settings.runtime_dir / "api.sock").exists()


# --- defect 11: a bad --config file says what is wrong --------------------------------------------
def test_spawn_with_a_bad_config_says_the_loaders_sentence(hive_proc: HiveProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "newt"\n[budgets]\nusd = 5\n')  # a table agent.toml does not have
    result = subprocess.run(
        [sys.executable, "-m", "hyperhive.cli.hivectl", "spawn", "newt", "--config", str(bad)],
        capture_output=True, text=True, timeout=60, env={**hive_proc.env})
    assert "budgets: unknown key" in result.stderr, result
    assert "internal" not in result.stderr
    assert result.returncode == 2
    assert hive_proc.host.request("list")["agents"] == []  # nothing was made


# --- defect 12 (the dashboard half): the token is compared exactly ----------------------------------
def test_the_dashboard_token_is_compared_exactly() -> None:
    token = "t" * 43
    sessions = Sessions(token)
    assert sessions.token_matches(token)
    for near in (token + " ", " " + token, token + "\n", token + "\t", token[:-1]):
        assert not sessions.token_matches(near), repr(near)


async def test_login_refuses_the_token_with_whitespace(hive: Hive) -> None:
    import httpx

    from hyperhive.web.app import create_app

    app = create_app(hive)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        token = app.state.dashboard.token
        assert (await client.post("/login", data={"token": token + " "})).status_code == 403
        assert (await client.get("/login", params={"token": " " + token})).status_code == 403
        assert (await client.get("/login", params={"token": token})).status_code == 303


# --- issue 15 item 1: the original's scope object ---------------------------------------------------
def test_scope_objects_of_the_original(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    host = hive_proc.settings.host_socket
    for line, sentence in [
        ({"cmd": "start", "scope": {}}, "scope is empty"),
        ({"cmd": "start", "scope": {"agent_names": []}}, "scope is empty"),
        ({"cmd": "stop", "scope": {"agent_names": [], "agents": False, "ci": False}, "graceful": True},
         "scope is empty"),
        ({"cmd": "start", "scope": {"forge": True}}, "no forge"),
        ({"cmd": "start", "scope": {"agent_names": ["x"], "agents": True}}, "say one of them"),
        ({"cmd": "start", "name": "x", "scope": {"agents": True}}, "say one of them"),
    ]:
        answer = one(host, line)
        assert answer["code"] == "bad_request" and sentence in answer["error"], (line, answer)
    # Known names are refused as the flat form refuses them: alice is a peer, ghost is no one.
    assert one(host, {"cmd": "start", "scope": {"agent_names": ["ghost"]}})["code"] == "not_found"
    assert one(host, {"cmd": "start", "scope": {"agents": True}})["ok"]  # no managed agents: nothing to do

