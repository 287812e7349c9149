"""The request lines the original's clients send (REFERENCE.md, "host.sock wire"), byte for byte, each
answered `ok` by a running hive with a managed agent `x` and an approval 42 pending."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from hyperhive.client import RequestFailed
from tests.support.hive import AgentConn, HiveProcess

# Copied exactly from REFERENCE.md; `approve` and `deny` each need approval 42 pending, so each ends a run.
LINES = [
    '{"cmd":"list"}',
    '{"cmd":"agent_status"}',
    '{"cmd":"subscribe_agent_status"}',
    '{"cmd":"urls"}',
    '{"cmd":"set_paused","name":"x","paused":true}',
    '{"cmd":"restart","name":"x"}',
    '{"cmd":"start","scope":{"agent_names":["x"]}}',
    '{"cmd":"stop","scope":{"agent_names":["x"]},"graceful":true}',
    '{"cmd":"pending"}',
]
RESOLVING = ['{"cmd":"approve","id":42}', '{"cmd":"deny","id":42}']


def first_answer(hive: HiveProcess, line: str) -> dict[str, Any]:
    """One connection per request, as the original's clients may do; a stream's first line is its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(str(hive.settings.host_socket))
        sock.sendall(line.encode() + b"\n")
        with sock.makefile("rb") as stream:
            answer: dict[str, Any] = json.loads(stream.readline())
        return answer


@pytest.fixture
def hive_with_x(hive_proc: HiveProcess) -> Iterator[HiveProcess]:
    hive_proc.host.request("spawn", name="x")
    try:
        yield hive_proc
    finally:
        with contextlib.suppress(RequestFailed):
            hive_proc.host.request("kill", all=True)  # agents outlive the daemon on purpose


def pend_approval_42(hive: HiveProcess) -> None:
    """Approvals are numbered by the hive; a peer's schedule requests count them up to 42."""
    hive.host.request("register_peer", name="p")
    with AgentConn(hive.agent_socket("p")) as p:
        while True:
            answer = p.request("request_schedule_prompt", targets=["p"], body="tick",
                               first_fire_at="2099-01-01T00:00:00Z")
            assert answer["ok"], answer
            if answer["approval"]["id"] >= 42:
                assert answer["approval"]["id"] == 42
                return


@pytest.mark.parametrize("resolving", RESOLVING)
def test_every_reference_line_answers_ok(hive_with_x: HiveProcess, resolving: str) -> None:
    pend_approval_42(hive_with_x)
    for line in [*LINES, resolving]:
        answer = first_answer(hive_with_x, line)
        assert answer["ok"] is True and answer["version"] == 1, (line, answer)
    assert hive_with_x.host.request("show_approval", id=42)["approvals"][0]["status"] in ("approved", "denied")


def test_scope_stop_that_is_not_graceful_kills(hive_with_x: HiveProcess) -> None:
    answer = first_answer(hive_with_x, '{"cmd":"stop","scope":{"agent_names":["x"]},"graceful":false}')
    assert answer["ok"], answer
    assert answer["agent_statuses"][0]["running"] is False
    answer = first_answer(hive_with_x, '{"cmd":"start","scope":{"agents":true}}')
    assert answer["ok"] and [row["name"] for row in answer["agent_statuses"]] == ["x"], answer
