"""One success shape and one error shape on every host.sock verb and on every bad input (datasette's
test_error_shape / test_success_envelope, for our socket)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from hyperhive.core.hive import Hive
from hyperhive.protocol import MAX_LINE_BYTES
from tests.support.hive import AgentConn

SUCCESS_CALLS: list[dict[str, Any]] = [
    {"cmd": "ping"},
    {"cmd": "list"},
    {"cmd": "agent_status"},
    {"cmd": "agent_status", "names": ["alice"]},
    {"cmd": "urls"},
    {"cmd": "set_paused", "name": "alice", "paused": True},
    {"cmd": "send", "to": "alice", "body": "hi"},
    {"cmd": "inbox"},
    {"cmd": "ack", "ids": [999]},
    {"cmd": "recent", "limit": 5},
    {"cmd": "register_peer", "name": "carol"},
    {"cmd": "unregister_peer", "name": "bob"},
    {"cmd": "events"},
    {"cmd": "set_model", "name": "alice", "model": "claude-haiku-4-5"},
    {"cmd": "logged_in", "name": "alice"},
    {"cmd": "questions"},
    {"cmd": "reminders"},
    {"cmd": "loose_ends"},
    {"cmd": "pending"},
    {"cmd": "schedules"},
    {"cmd": "create_schedule", "targets": ["alice"], "body": "hi", "first_fire_at": "2030-01-01T00:00:00Z"},
    {"cmd": "dashboard_url"},
    {"cmd": "logs", "name": "alice", "lines": 5},
]
RESULT_FIELD = {"ping": "pong", "list": "agents", "agent_status": "agent_statuses", "urls": "urls",
                "set_paused": "agent_statuses", "send": "ids", "inbox": "messages", "ack": "acked",
                "recent": "messages", "register_peer": "agent_statuses", "unregister_peer": "agents",
                "events": "events", "set_model": "agent_statuses",
                "logged_in": "agent_statuses", "questions": "questions", "reminders": "reminders",
                "loose_ends": "loose_ends", "pending": "approvals", "schedules": "schedules",
                "create_schedule": "schedule", "dashboard_url": "url", "logs": "lines"}


async def call(hive: Hive, line: bytes) -> dict[str, Any]:
    reader, writer = await asyncio.open_unix_connection(str(hive.settings.host_socket), limit=4 * MAX_LINE_BYTES)
    writer.write(line)
    await writer.drain()
    response = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return dict(json.loads(response))


async def register(hive: Hive, *names: str) -> None:
    for name in names:
        response = await call(hive, json.dumps({"cmd": "register_peer", "name": name}).encode() + b"\n")
        assert response["ok"], response


def test_every_host_verb_is_covered() -> None:
    from hyperhive.core.verbs.host import HOST_VERBS

    # streams: test_status.py; controls need a connected harness: test_harness_verbs.py
    covered = {c["cmd"] for c in SUCCESS_CALLS} | {"subscribe_agent_status", "interrupt", "new_session", "compact"}
    covered |= {"answer", "cancel_question", "cancel_reminder"}  # need an open item: test_loose_ends.py
    covered |= {"show_approval", "approve", "deny", "update_schedule", "set_schedule_paused", "cancel_schedule",
                "fire_schedule"}  # test_approvals_schedules.py
    covered |= {"spawn", "start", "stop", "restart", "kill", "rebuild", "destroy", "revive"}  # test_lifecycle.py
    covered |= {"rollback"}  # tests/e2e/test_manager.py
    covered |= {"images"}  # tests/images/test_agents.py
    declared = {model.model_fields["cmd"].annotation.__args__[0] for model in HOST_VERBS}
    assert declared | {"subscribe_agent_status"} == covered


@pytest.mark.parametrize("request_obj", SUCCESS_CALLS, ids=lambda r: r["cmd"])
async def test_success_envelope(hive: Hive, request_obj: dict[str, Any]) -> None:
    await register(hive, "alice", "bob")
    response = await call(hive, json.dumps({**request_obj, "req_id": "r1"}).encode() + b"\n")
    assert response["version"] == 1
    assert response["ok"] is True, response
    assert response["req_id"] == "r1"
    assert "error" not in response
    assert RESULT_FIELD[request_obj["cmd"]] in response


BAD_LINES: list[tuple[bytes, str, str]] = [
    (b"{not json\n", "bad_json", "not valid JSON"),
    (b"[1, 2]\n", "bad_json", "must be a JSON object"),
    (b'{"name": "x"}\n', "bad_request", 'no "cmd"'),
    (b'{"cmd": "frobnicate"}\n', "unknown_cmd", "unknown cmd 'frobnicate'"),
    (b'{"cmd": "list", "colour": "red"}\n', "unknown_field", "unknown field 'colour'"),
    (b'{"cmd": "set_paused", "name": "alice"}\n', "bad_request", "needs the field 'paused'"),
    (b'{"cmd": "set_paused", "name": "../etc", "paused": true}\n', "invalid_name", "invalid agent name"),
    (b'{"cmd": "set_paused", "name": "ghost", "paused": true}\n', "not_found", "no agent named 'ghost'"),
    (b'{"cmd": "register_peer", "name": "operator"}\n', "invalid_name", "reserved"),
    (b'{"cmd": "register_peer", "name": "alice"}\n', "conflict", "already exists"),
    (b'{"cmd": "unregister_peer", "name": "%2e%2e"}\n', "invalid_name", "invalid agent name"),
    (b'{"cmd": "send", "to": "alice", "body": ""}\n', "bad_request", "field 'body'"),
    (b'{"cmd": "send", "to": "nobody", "body": "x"}\n', "not_found", "no agent named 'nobody'"),
    (b'{"cmd": "send", "to": "../../x", "body": "x"}\n', "invalid_name", "cannot send to"),
    (b'{"cmd": "send", "to": "alice", "body": "x", "in_reply_to": 12345}\n', "not_found", "does not exist"),
    (b'{"cmd": "list", "version": 2}\n', "version_mismatch", "wire version 1"),
    (b'{"cmd": "inbox", "limit": 0}\n', "bad_request", "field 'limit'"),
]


@pytest.mark.parametrize(("line", "code", "sentence"), BAD_LINES, ids=[c for _, c, _ in BAD_LINES])
async def test_error_envelope(hive: Hive, line: bytes, code: str, sentence: str) -> None:
    await register(hive, "alice")
    response = await call(hive, line)
    assert response["version"] == 1
    assert response["ok"] is False
    assert response["code"] == code
    assert sentence in response["error"]
    assert "Traceback" not in response["error"]


async def test_oversized_line_is_answered_and_the_connection_keeps_serving(hive: Hive) -> None:
    reader, writer = await asyncio.open_unix_connection(str(hive.settings.host_socket))
    writer.write(b'{"cmd":"send","to":"x","body":"' + b"a" * (MAX_LINE_BYTES + 100) + b'"}\n')
    writer.write(b'{"cmd":"ping"}\n')
    await writer.drain()
    first = json.loads(await reader.readline())
    second = json.loads(await reader.readline())
    writer.close()
    await writer.wait_closed()
    assert first["code"] == "line_too_long"
    assert second["ok"] is True and second["pong"] is True


def test_agent_socket_answers_bad_input_and_stays_up(hive_proc: Any) -> None:
    hive_proc.host.request("register_peer", name="alice")
    with AgentConn(hive_proc.agent_socket("alice")) as conn:
        conn.send_raw(b"\xff\xfe garbage\n")
        assert conn.read()["code"] == "bad_json"
        conn.send_raw(b"x" * (MAX_LINE_BYTES + 1) + b"\n")
        assert conn.read()["code"] == "line_too_long"
        assert conn.request("recv", wait_seconds=500)["code"] == "bad_request"
        assert conn.request("whoami")["name"] == "alice"
    # A client that connects and vanishes mid-line does not hurt the daemon.
    raw = socket.socket(socket.AF_UNIX)
    raw.connect(str(hive_proc.settings.host_socket))
    raw.sendall(b'{"cmd": "li')
    raw.close()
    assert hive_proc.host.request("ping")["pong"] is True


def test_host_socket_mode(hive_proc: Any) -> None:
    assert Path(hive_proc.settings.host_socket).stat().st_mode & 0o777 == 0o660
