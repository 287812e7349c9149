"""One success shape and one error shape on every host.sock verb and on every bad input (datasette's
test_error_shape / test_success_envelope, for our socket)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from hyperhive.client import AsyncSocketClient, stream
from hyperhive.core.hive import Hive
from hyperhive.protocol import MAX_LINE_BYTES
from tests.support.agents import harness_pids
from tests.support.configs import commit_agent_toml
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
    {"cmd": "usage", "name": "alice", "by": "day"},
]
RESULT_FIELD = {"ping": "pong", "list": "agents", "agent_status": "agent_statuses", "urls": "urls",
                "set_paused": "agent_statuses", "send": "ids", "inbox": "messages", "ack": "acked",
                "recent": "messages", "register_peer": "agent_statuses", "unregister_peer": "agents",
                "events": "events", "set_model": "agent_statuses",
                "logged_in": "agent_statuses", "questions": "questions", "reminders": "reminders",
                "loose_ends": "loose_ends", "pending": "approvals", "schedules": "schedules",
                "create_schedule": "schedule", "dashboard_url": "url", "logs": "lines",
                "usage": "usage"}


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


SPAWNED = """name = "amy"
description = "a managed agent for the verb tour"
role = "agent"
model = "claude-sonnet-4-5"
allowed_recipients = []
[restart]
delay_seconds = 0.2
stop_timeout_seconds = 5
[tools]
ask = ["WebFetch"]
"""


def commit_config(hive: Hive, name: str, text: str) -> str:
    """A new config committed in the agent's proposed repo (what the manager would do)."""
    return commit_agent_toml(hive.settings.state_dir, name, text)


async def test_every_host_verb_runs_and_does_its_job(hive: Hive) -> None:
    """Each verb of HOST_VERBS (and the status stream) is executed here, with a check of its effect; a verb
    added without a line here fails the last assertion."""
    from hyperhive.core.verbs.host import HOST_VERBS

    ran: set[str] = set()

    async def ok(cmd: str, **fields: Any) -> dict[str, Any]:
        response = await call(hive, json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        assert response["ok"] is True, (cmd, response)
        ran.add(cmd)
        return response

    def row(response: dict[str, Any]) -> dict[str, Any]:
        return dict(response["agent_statuses"][0])

    assert (await ok("ping"))["pong"] is True
    assert (await ok("subscribe_agent_status")) == {"version": 1, "ok": True}  # the stream's first line
    assert row(await ok("spawn", name="amy", config=SPAWNED))["state"] == "running"
    try:
        assert row(await ok("register_peer", name="bob"))["kind"] == "peer"
        bob = AsyncSocketClient(hive.settings.agent_socket_dir("bob") / "mcp.sock")
        assert (await ok("list"))["agents"] == ["amy", "bob"]
        assert {r["name"] for r in (await ok("agent_status"))["agent_statuses"]} == {"amy", "bob"}
        assert "bob" in json.dumps((await ok("urls"))["urls"]) or (await ok("urls"))["urls"] is not None
        assert row(await ok("set_paused", name="bob", paused=True))["paused"] is True
        assert row(await ok("set_paused", name="bob", paused=False))["paused"] is False  # a paused agent gets no mail

        # mail
        sent = await ok("send", to="bob", body="hello bob")
        assert (await bob.request("recv", ack=True))["messages"][0]["id"] == sent["ids"][0]
        back = (await bob.request("send", to="operator", body="hello operator"))["id"]
        assert [m["id"] for m in (await ok("inbox", unread_only=True))["messages"]] == [back]
        assert (await ok("ack", ids=[back]))["acked"] == [back]
        assert (await ok("recent", limit=5))["messages"][0]["id"] == back
        await bob.request("report", events=[{"kind": "turn_end", "payload": {"ok": True}}])
        kinds = [e["kind"] for e in (await ok("events", agent="bob"))["events"]]
        assert kinds == ["notification", "turn.turn_end"]  # bob's mail to the operator was a notification

        # controls reach a connected harness
        controls = stream(hive.settings.agent_socket_dir("bob") / "mcp.sock", "control_stream")
        assert (await anext(controls))["ok"] is True
        await ok("interrupt", name="bob")
        assert row(await ok("set_model", name="bob", model="claude-haiku-4-5"))["active_model"] == "claude-haiku-4-5"
        await ok("new_session", name="bob")
        await ok("compact", name="bob")
        got = [(await asyncio.wait_for(anext(controls), 10))["control"] for _ in range(4)]
        assert got == ["interrupt", "set_model", "new_session", "compact"]
        await controls.aclose()
        await bob.request("hello", role="harness")
        await bob.request("harness_state", activity="needs_login", needs_login=True)
        assert row(await ok("logged_in", name="bob"))["needs_login"] is False

        # loose ends
        first = (await bob.request("ask", question="deploy?"))["question"]
        second = (await bob.request("ask", question="lunch?"))["question"]
        assert {q["id"] for q in (await ok("questions"))["questions"]} == {first["id"], second["id"]}
        assert (await ok("answer", id=first["id"], answer="yes"))["question"]["status"] == "answered"
        assert (await ok("cancel_question", id=second["id"]))["question"]["status"] == "cancelled"
        reminder = (await bob.request("remind", message="later", delay_seconds=3600))["reminder"]
        assert [r["id"] for r in (await ok("reminders", agent="bob"))["reminders"]] == [reminder["id"]]
        assert (await ok("cancel_reminder", id=reminder["id"]))["reminder"]["id"] == reminder["id"]
        assert (await ok("reminders", agent="bob"))["reminders"] == []
        assert (await ok("loose_ends", agent="bob"))["loose_ends"] is not None

        # approvals: an agent's schedule request, approved or denied
        later = time.time() + 3600
        asks = [(await bob.request("request_schedule_prompt", targets=["amy"], body=f"b{i}", first_fire_at=later))
                for i in range(2)]
        pending = {a["id"] for a in (await ok("pending", status="pending"))["approvals"]}
        assert pending == {a["approval"]["id"] for a in asks}
        assert (await ok("show_approval", id=asks[0]["approval"]["id"]))["approvals"][0]["kind"] == "schedule_prompt"
        assert (await ok("approve", id=asks[0]["approval"]["id"]))["approvals"][0]["status"] == "approved"
        assert (await ok("deny", id=asks[1]["approval"]["id"], note="no"))["approvals"][0]["status"] == "denied"

        # the operator's schedules
        made = (await ok("create_schedule", targets=["bob"], body="stand-up", first_fire_at=later))["schedule"]
        assert made["id"] in {s["id"] for s in (await ok("schedules"))["schedules"]}
        assert (await ok("update_schedule", id=made["id"], body="stand-up!"))["schedule"]["body"] == "stand-up!"
        await ok("fire_schedule", id=made["id"])
        fired = (await bob.request("recv", wait_seconds=10, ack=True))["messages"]
        assert [m["body"] for m in fired if m["sender"] != "system"] == ["stand-up!"]
        told = [json.loads(m["body"]) for m in fired if m["sender"] == "system"]
        assert ("question_answered", "yes") in [(e["event"], e.get("answer")) for e in told]  # the asker heard
        assert (await ok("set_schedule_paused", id=made["id"], paused=True))["schedule"]["status"] == "paused"
        assert (await ok("cancel_schedule", id=made["id"]))["schedule"]["status"] == "cancelled"
        assert (await ok("dashboard_url"))["url"].startswith("http://127.0.0.1:")
        assert isinstance((await ok("logs", name="amy", lines=5))["lines"], list)

        # a second deploy, then its rollback proposed as an approval
        sha = commit_config(hive, "amy", SPAWNED.replace("verb tour", "verb tour, second config"))
        proposal = await hive.deployments.request_apply_commit("hm1nd", "amy", sha, "a second config")
        watch = stream(hive.settings.host_socket, "subscribe_agent_status")
        assert (await anext(watch))["ok"] is True
        await ok("approve", id=proposal.id)
        async with asyncio.timeout(60):  # the deploy runs after the approval's answer
            async for line in watch:
                if any(r["name"] == "amy" and r["deployed_sha"] == sha[:12] for r in line["agent_statuses"]):
                    break
        await watch.aclose()
        back_to = (await ok("rollback", name="amy"))["approvals"][0]
        assert (back_to["kind"], back_to["status"]) == ("apply_commit", "pending")

        # the swarm tree, the operator's queued spawn, the way into a running sandbox
        assert row(await ok("set_parent", name="bob", parent="amy"))["parent"] == "amy"
        assert row(await ok("set_parent", name="bob"))["parent"] is None
        queued = (await ok("request_spawn", name="zed", description="later"))["approvals"][0]
        assert (queued["kind"], queued["agent"], queued["status"]) == ("spawn", "zed", "pending")
        entry = await ok("sandbox_shell", name="amy", command=["id"])
        assert entry["argv"] == ["id"] and "/amy/" in entry["cwd"] + "/" and entry["pid"] > 0  # process runtime

        # a permission prompt of amy's (as her CLI's prompt tool asks), allowed from now on
        amy = AsyncSocketClient(hive.settings.agent_socket_dir("amy") / "mcp.sock")
        prompt = asyncio.create_task(amy.request("tool_prompt", tool="WebFetch", input={"url": "https://x.test"},
                                                 tool_use_id="tour-1"))
        async with asyncio.timeout(30):
            while not (cards := [a for a in (await ok("pending", status="pending"))["approvals"]
                                 if a["kind"] == "tool_use"]):
                await asyncio.sleep(0.05)  # filed by amy's request on another connection: nothing to wait on
        approved, change = (await ok("approve_always", id=cards[0]["id"]))["approvals"]
        assert (approved["status"], change["kind"], change["status"]) == ("approved", "apply_commit", "pending")
        assert (await asyncio.wait_for(prompt, 30))["behavior"] == "allow"
        await amy.close()

        # spend: the gateway's meter (nothing called the API here) and the kill switch
        assert (await ok("usage", by="agent"))["total"]["calls"] == 0
        paused = await ok("pause_all")
        assert "bob" in paused["paused_agents"] and row(await ok("agent_status", names=["bob"]))["paused"] is True
        assert "bob" in (await ok("resume_all"))["resumed_agents"]
        assert row(await ok("agent_status", names=["bob"]))["paused"] is False

        # every stored image, with what it holds and who uses it (the test cache may hold images)
        assert all({"id", "kind", "packages", "own_mb", "users"} <= set(i) for i in (await ok("images"))["images"])

        # lifecycle
        def pids() -> list[int]:
            return harness_pids("amy", hive.settings.state_dir)

        assert len(pids()) == 1
        assert row(await ok("stop", name="amy"))["state"] == "stopped" and pids() == []
        assert row(await ok("start", name="amy"))["state"] == "running"
        for verb in ("restart", "rebuild"):  # a new harness each time
            before = pids()
            assert row(await ok(verb, name="amy"))["state"] == "running"
            after = pids()
            assert len(after) == 1 and after != before, verb
        assert row(await ok("kill", name="amy"))["state"] == "stopped" and pids() == []
        assert (await ok("destroy", name="amy"))["agents"] == ["amy", "bob"]
        assert row(await ok("agent_status", names=["amy"]))["state"] == "destroyed"
        assert row(await ok("revive", name="amy"))["state"] == "running"
        assert (await ok("unregister_peer", name="bob"))["agents"] == ["amy"]
        await bob.close()
    finally:
        await call(hive, b'{"cmd": "kill", "all": true}\n')
    declared = {model.model_fields["cmd"].annotation.__args__[0] for model in HOST_VERBS}
    assert ran == declared | {"subscribe_agent_status"}, f"not run here: {sorted(declared - ran)}"


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
