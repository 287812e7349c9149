"""The dashboard of a real hive-c0re under random query parameters, path names, posted verbs, actions and
login forms: every answer is a page, a redirect or a clear error, never HTTP 500 and never `internal`;
the daemon keeps answering `list`, and its log has no traceback at the end."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hyperhive.web.auth import CSRF_HEADER
from tests.support.hive import HiveProcess

from .strategies import EDGE_TEXTS, HOST_MODELS, request_objects

SKIP = frozenset({"spawn", "revive", "subscribe_agent_status", "unregister_peer", "destroy"})
PARAMS = ["lines", "limit", "before", "after", "topics", "agent", "token"]
ODD_NUMBERS = ["\u00b2", "\u0661", "-1", "1.5", "9" * 30, "0", "50"]  # superscript two, Arabic-Indic one
param_values = st.one_of(st.text(max_size=30), st.sampled_from([*ODD_NUMBERS, *EDGE_TEXTS]))
names = st.one_of(st.sampled_from(["bob", "ghost", "Bad!", "..", "a" * 300, "%2e%2e", "\u00fc"]),
                  st.text(min_size=1, max_size=20))
ROUTES = ["/agents/{}.json", "/agents/{}/transcript.json", "/agents/{}/stats.json", "/agents/{}/logs.json",
          "/agents/{}", "/agents/{}/logs", "/swarm.json", "/call.json", "/flow.json", "/schedules.json", "/swarm"]


class Board:
    def __init__(self, hive: HiveProcess) -> None:
        login = hive.host.request("dashboard_url")["url"]
        base = login[:login.index("/login")]
        self.hive = hive
        self.client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        assert self.client.get(login[len(base):]).status_code == 303
        page = self.client.get("/swarm").text
        found = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert found
        self.csrf = found.group(1)

    def post_json(self, path: str, body: Any) -> httpx.Response:
        import json

        return self.client.post(path, content=json.dumps(body).encode(),
                                headers={CSRF_HEADER: self.csrf, "content-type": "application/json"})


@pytest.fixture(scope="module")
def board() -> Iterator[Board]:
    root = Path(tempfile.mkdtemp(prefix="hh-fd-", dir="/tmp"))
    hive = HiveProcess(root)
    hive.log_level = "INFO"
    hive.start()
    try:
        hive.host.request("register_peer", name="bob")
        running = Board(hive)
        yield running
        running.client.close()
        log = hive.log_text()
        assert "Traceback" not in log and "dashboard request failed" not in log
    finally:
        hive.stop()
        shutil.rmtree(root, ignore_errors=True)


def _judged(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.status_code, response.text[:300])
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        assert body["version"] == 1 and (body["ok"] or body["code"] != "internal"), body


def _alive(board: Board) -> None:
    assert board.hive.proc is not None and board.hive.proc.poll() is None
    assert board.hive.host.request("list")["ok"]


@given(route=st.sampled_from(ROUTES), name=names, params=st.dictionaries(st.sampled_from(PARAMS), param_values))
@example(route="/agents/{}/logs.json", name="bob", params={"lines": "\u00b2"})
@example(route="/agents/{}/transcript.json", name="bob", params={"before": "\u0661\u0662", "limit": "\u00b2"})
@example(route="/agents/{}/transcript.json", name="bob", params={"before": "9" * 30})
def test_query_params_and_names(board: Board, route: str, name: str, params: dict[str, str]) -> None:
    _judged(board.client.get(route.format(quote(name, safe="")), params=params))


@given(params=st.dictionaries(st.sampled_from(["after", "topics", "agent"]), param_values),
       last_event=st.one_of(st.none(), param_values.filter(lambda v: v.isprintable() and v.isascii())))
@example(params={"after": "x.\u00b2"}, last_event=None)
def test_the_live_stream_opens_or_says_reload(board: Board, params: dict[str, str], last_event: str | None) -> None:
    headers = {"last-event-id": last_event} if last_event is not None else {}
    with board.client.stream("GET", "/api/stream", params=params, headers=headers) as response:
        assert response.status_code == 200
        first = next(response.iter_text())
        assert first.startswith("retry:")


@given(request_objects(HOST_MODELS, SKIP))
@example({"cmd": "approve", "id": 9223372036854775808})
@example({"cmd": "deny", "id": 9223372036854775808})
@example({"cmd": "create_schedule", "targets": ["bob"], "body": "b", "first_fire_at": 1e300})
@example({"cmd": "start", "scope": {"agent_names": ["bob"]}})
def test_posted_verbs(board: Board, request: dict[str, Any]) -> None:
    _judged(board.post_json("/api/verb", request))
    _alive(board)


@given(body=st.dictionaries(st.sampled_from(["action", "name", "x"]),
                            st.one_of(names, st.sampled_from(["restart", "pause", "purge", "kill"]),
                                      st.integers(), st.none())))
def test_posted_actions(board: Board, body: dict[str, Any]) -> None:
    _judged(board.post_json("/api/action", body))


@given(token=param_values, form=st.booleans())
@example(token="x" * 5000, form=True)
def test_login_forms(board: Board, token: str, form: bool) -> None:
    with httpx.Client(base_url=str(board.client.base_url), timeout=30) as anon:
        response = anon.post("/login", data={"token": token}) if form else anon.get("/login", params={"token": token})
    assert response.status_code in (200, 403), response.status_code
