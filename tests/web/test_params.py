"""Every query parameter and posted body of the dashboard answers a clear error for bad input (issue 13,
defects 6, 7, 8, 9): never HTTP 500. tests/fuzz/test_dashboard_fuzz.py throws random input at the same."""

from __future__ import annotations

import json

import httpx
import pytest

from hyperhive.web.auth import CSRF_HEADER

from .conftest import Operator

BAD_NUMBERS = ["²", "١٢", "1.5", "-1", "1e3", " 1", "9" * 40, "0x10", "½"]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(("route", "param"), [("/agents/bob/logs.json", "lines"),
                                              ("/agents/bob/transcript.json", "limit"),
                                              ("/agents/bob/transcript.json", "before")])
async def test_number_params_refuse_what_is_not_a_whole_number(operator: Operator, route: str, param: str,
                                                               value: str) -> None:
    assert (await operator.verb(cmd="register_peer", name="bob"))["ok"]
    response = await operator.get(route, params={param: value})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert "whole number" in response.json()["error"]


async def test_number_params_take_big_ones_capped(operator: Operator) -> None:
    assert (await operator.verb(cmd="register_peer", name="bob"))["ok"]
    for route in ("/agents/bob/logs.json?lines=999999999999999999",
                  "/agents/bob/transcript.json?before=999999999999999999&limit=999999"):
        response = await operator.get(route)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"cmd": "approve", "id": 2**63}, 400, "bad_request"),
    ({"cmd": "deny", "id": 2**63, "note": "no"}, 400, "bad_request"),
    ({"cmd": "answer", "id": 2**64, "answer": "a"}, 400, "bad_request"),
    ({"cmd": "update_schedule", "id": 2**63, "body": "b"}, 400, "bad_request"),
    ({"cmd": "create_schedule", "targets": ["bob"], "body": "b", "first_fire_at": 1e300}, 400, "bad_request"),
])
async def test_verb_posts_with_out_of_range_values(operator: Operator, body: dict[str, object], status: int,
                                                   code: str) -> None:
    response = await operator.post("/api/verb", body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


@pytest.mark.parametrize(("raw", "sentence"), [
    (b'{"cmd":"list","x":' + b"[" * 5000 + b"]" * 5000 + b"}", "nests deeper"),
    (b'{"cmd":"send","to":"bob","body":"\\ud800"}', "lone surrogate"),
    (b'{"cmd":"list","x":NaN}', "NaN"),
    (b"[1]", "JSON object"),
    (b"\xff\xfe", "not valid JSON"),
    (b"", "not valid JSON"),
])
async def test_verb_posts_that_are_not_holdable_json(operator: Operator, raw: bytes, sentence: str) -> None:
    response = await operator.client.post("/api/verb", content=raw, headers={
        CSRF_HEADER: operator.csrf, "content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_json" and sentence in response.json()["error"]


async def test_a_body_over_the_line_limit_is_refused(operator: Operator) -> None:
    raw = b'{"cmd":"send","to":"bob","body":"' + b"a" * (1024 * 1024 + 10) + b'"}'
    response = await operator.client.post("/api/verb", content=raw, headers={
        CSRF_HEADER: operator.csrf, "content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "line_too_long"


@pytest.mark.parametrize("body", [
    {"action": "restart", "name": "x" * 5000}, {"action": "\ud800", "name": "bob"}, {"action": ["x"], "name": "b"},
])
async def test_action_posts_with_bad_fields(operator: Operator, body: dict[str, object]) -> None:
    response = await operator.client.post("/api/action", content=json.dumps(body).encode(), headers={
        CSRF_HEADER: operator.csrf, "content-type": "application/json"})
    assert response.status_code in (400, 404), response.text
    assert response.json()["code"] != "internal"



async def test_a_huge_login_form_is_refused_before_it_is_read(anon: httpx.AsyncClient) -> None:
    """The login form is open to anyone who reaches the port: its size is checked before it is parsed."""
    response = await anon.post("/login", data={"token": "t" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.json()["code"] == "limit"
    assert (await anon.post("/login", data={"token": "wrong"})).status_code == 403
