"""A real hive-c0re under random and hostile lines on host.sock and on an agent's socket: whole lines, half
lines, hang-ups. Every line gets one answer, ok or a clear error, never `internal`; after every example
the daemon answers `list`; its log has no traceback at the end."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.hive import HiveProcess

from .strategies import AGENT_MODELS, HOST_MODELS, SPECIAL_LINES, dump, raw_lines, request_objects

# Verbs left out here, covered elsewhere: they start processes (spawn, revive), stream (subscribe, controls,
# watch), block (recv's wait), or take away the sockets this test talks to (unregister_peer, destroy).
HOST_SKIP = frozenset({"spawn", "revive", "subscribe_agent_status", "unregister_peer", "destroy"})
AGENT_SKIP = frozenset({"control_stream", "watch_inbox", "recv", "tool_prompt"})  # tool_prompt waits for the operator

host_lines = st.one_of(raw_lines, request_objects(HOST_MODELS, HOST_SKIP).map(dump))
agent_lines = st.one_of(raw_lines, request_objects(AGENT_MODELS, AGENT_SKIP).map(dump))


@pytest.fixture(scope="module")
def daemon() -> Iterator[HiveProcess]:
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="hh-fz-", dir="/tmp"))  # short: socket paths are limited
    hive = HiveProcess(root)
    hive.log_level = "INFO"
    hive.start()
    try:
        for name in ("alice", "bob"):
            hive.host.request("register_peer", name=name)
        yield hive
        assert "Traceback" not in hive.log_text()
    finally:
        hive.stop()
        shutil.rmtree(root, ignore_errors=True)


def _converse(path: Path, lines: list[bytes], ending: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(b"".join(line + b"\n" for line in lines))
        if ending == "half_line":
            sock.sendall(b'{"cmd":"li')
            return
        if ending == "hangup":
            return
        with sock.makefile("rb") as stream:  # closed even when an assert fails: no socket left to the gc
            for line in lines:
                if not line.strip():
                    continue  # a blank line is no request: nothing is answered
                raw = stream.readline()
                assert raw, f"the daemon closed the connection instead of answering {line[:80]!r}"
                answer = json.loads(raw)
                assert answer["version"] == 1
                if not answer["ok"]:
                    assert answer["code"] != "internal", (line[:200], answer)
                    assert answer["error"]


def _alive(daemon: HiveProcess) -> None:
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log_text()[-3000:]
    assert daemon.host.request("list")["ok"]


@given(lines=st.lists(host_lines, min_size=1, max_size=4), ending=st.sampled_from(["read", "half_line", "hangup"]))
@example(lines=[SPECIAL_LINES[0]], ending="read")  # a lone surrogate in req_id
@example(lines=[SPECIAL_LINES[1], b'{"cmd":"ping"}'], ending="read")  # nesting past the recursion limit
@example(lines=[b'{"cmd":"approve","id":9223372036854775808}'], ending="read")
@example(lines=[b'{"cmd":"start","scope":{"agent_names":["alice"]}}'], ending="read")
def test_host_socket_survives_hostile_lines(daemon: HiveProcess, lines: list[bytes], ending: str) -> None:
    _converse(daemon.settings.host_socket, lines, ending)
    _alive(daemon)


@given(lines=st.lists(agent_lines, min_size=1, max_size=4), ending=st.sampled_from(["read", "half_line", "hangup"]))
@example(lines=[b'{"cmd":"harness_state","activity":"idle","model":"' + b"m" * 100_000 + b'"}'], ending="read")
@example(lines=[b'{"cmd":"list","req_id":"\\ud800"}', b'{"cmd":"whoami"}'], ending="read")
@example(lines=[b'{"cmd":"send","to":"bob","body":"\\ud800"}'], ending="read")
@example(lines=[b'{"cmd":"remind","message":"m","at":1e300}'], ending="read")
def test_agent_socket_survives_hostile_lines(daemon: HiveProcess, lines: list[bytes], ending: str) -> None:
    _converse(daemon.agent_socket("alice"), lines, ending)
    _alive(daemon)
    assert daemon.host.request("agent_status", names=["alice"])["ok"]
