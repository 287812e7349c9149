"""parse_request and decode_line on hostile input: a typed request or a HiveError with a clear code and a
sentence; never another exception, never `internal`, and whatever parses can be answered on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hyperhive.client.errors import decode_response
from hyperhive.protocol import ErrorCode, HiveError, decode_line, encode_line, error_response, ok_response, wire
from hyperhive.protocol.agent_requests import AGENT_REQUEST
from hyperhive.protocol.host_requests import HOST_REQUEST
from hyperhive.protocol.parsing import parse_request

from .strategies import AGENT_MODELS, HOST_MODELS, SPECIAL_LINES, dump, raw_lines, request_objects

TOO_BIG = 2**63


def _parses_or_says_why(adapter: Any, obj: dict[str, Any]) -> None:
    try:
        parsed = parse_request(adapter, obj)
    except HiveError as exc:
        assert exc.code != ErrorCode.INTERNAL
        assert exc.message and "Traceback" not in exc.message
        encode_line(error_response(exc.code, exc.message))  # the sentence can go on the wire
        return
    encode_line(ok_response(parsed.req_id))  # so can the echoed req_id


@given(request_objects(HOST_MODELS))
@example({"cmd": "approve", "id": TOO_BIG})
@example({"cmd": "deny", "id": TOO_BIG, "note": "n"})
@example({"cmd": "ack", "ids": [TOO_BIG]})
@example({"cmd": "events", "after_seq": TOO_BIG})
@example({"cmd": "create_schedule", "targets": ["bob"], "body": "b", "first_fire_at": 1e300})
@example({"cmd": "create_schedule", "targets": ["bob"], "body": "b", "first_fire_at": "0001-01-01T00:00:00+23:59"})
@example({"cmd": "start", "scope": {"agent_names": ["x"]}})
@example({"cmd": "stop", "scope": {"agent_names": ["x"]}, "graceful": True})
@example({"cmd": "start", "scope": {}})
@example({"cmd": "list", "req_id": "\ud800"})
@example({"cmd": "spawn", "name": "newt", "config": "[budget]\n"})
def test_host_requests_parse_or_say_why(obj: dict[str, Any]) -> None:
    _parses_or_says_why(HOST_REQUEST, obj)


@given(request_objects(AGENT_MODELS))
@example({"cmd": "harness_state", "activity": "idle", "model": "m" * 100_000})
@example({"cmd": "harness_state", "activity": "idle", "session_id": "../../x"})
@example({"cmd": "answer", "id": TOO_BIG, "answer": "a"})
@example({"cmd": "remind", "message": "m", "at": 1e300})
@example({"cmd": "remind", "message": "m", "delay_seconds": 1e300})
@example({"cmd": "ask", "question": "q", "ttl_seconds": 1e300})
@example({"cmd": "send_batch", "messages": [{"to": "b", "body": "x", "in_reply_to": TOO_BIG}]})
@example({"cmd": "cancel_loose_end", "kind": "question", "id": TOO_BIG})
def test_agent_requests_parse_or_say_why(obj: dict[str, Any]) -> None:
    _parses_or_says_why(AGENT_REQUEST, obj)


@given(st.one_of(raw_lines, request_objects(HOST_MODELS).map(dump), request_objects(AGENT_MODELS).map(dump)))
def test_decode_line_gives_an_object_or_bad_json(line: bytes) -> None:
    try:
        obj = decode_line(line)
    except HiveError as exc:
        assert exc.code == ErrorCode.BAD_JSON and exc.message
        encode_line(error_response(exc.code, exc.message))
        return
    assert isinstance(obj, dict)
    encode_line(obj)  # what was accepted can be written back (no lone surrogate, no NaN)


@pytest.mark.parametrize(("line", "sentence"), [
    ('{"cmd":"list","req_id":"\\ud800"}'.encode("utf-16-le"), "lone surrogate"),  # an escape, not b"\\u"
    ('{"cmd":"list","req_id":"\\udfff"}'.encode("utf-32"), "lone surrogate"),
    ('{"cmd":"list","req_id":"\\ud800"}'.encode("utf-8-sig"), "lone surrogate"),
    (b'{"cmd":"list","x":"\xed\xa0\x80"}', "lone surrogate"),  # UTF-8 bytes of a surrogate: not ASCII
    (b'{"cmd":"list","x":' + b"[" * 100 + b"]" * 100 + b"}", "nests deeper"),  # 101 levels: just over
], ids=["utf16-escape", "utf32-escape", "utf8-bom-escape", "utf8-bytes", "101-levels"])
def test_lines_that_skip_no_check(line: bytes, sentence: str) -> None:
    """decode_line walks the tree only for lines that may break a rule: every kind of such line is walked."""
    with pytest.raises(HiveError, match=sentence) as caught:
        decode_line(line)
    assert caught.value.code == ErrorCode.BAD_JSON


def test_a_line_just_within_the_depth_is_taken() -> None:
    assert "x" in decode_line(b'{"x":' + b"[" * 99 + b"]" * 99 + b"}")  # 100 levels, the object's own included


def test_the_corpus_lines_are_each_judged() -> None:
    """The fixed corpus of issue 13 through decode and parse: never anything but a HiveError or a request."""
    for line in SPECIAL_LINES:
        try:
            obj = decode_line(line)
        except HiveError as exc:
            assert exc.code in (ErrorCode.BAD_JSON,)
            continue
        for adapter in (HOST_REQUEST, AGENT_REQUEST):
            _parses_or_says_why(adapter, obj)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**30), max_value=10**30) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1, max_size=5),
       st.sampled_from([{"ensure_ascii": True}, {"ensure_ascii": False, "separators": (",", ":")}]))
@example({"cmd": "x", "n": 12345678901234567890123}, {"ensure_ascii": True})  # past int64: kept exact
@example({"cmd": "x", "n": -9223372036854775809}, {"ensure_ascii": True})
@example({"cmd": "x", "f": 0.1234567890123456789}, {"ensure_ascii": True})
def test_the_fast_reading_is_the_standard_librarys(obj: dict[str, Any], style: dict[str, Any]) -> None:
    """decode_line reads the common line with orjson and falls back to the standard library: whatever a line
    holds (numbers of any size, any text), both readings give the same object, of the same types."""
    line = json.dumps(obj, **style).encode("utf-8", "surrogatepass")
    try:
        slow: object = wire._decode_slowly(line)
    except HiveError as exc:
        slow = exc.code
    try:
        fast: object = decode_line(line)
    except HiveError as exc:
        fast = exc.code
    assert fast == slow
    assert _types(fast) == _types(slow)


def _types(value: object) -> object:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


def test_a_lone_surrogate_goes_out_escaped_and_a_client_reads_it_back() -> None:
    """Text stored before requests were checked may hold a lone surrogate: orjson refuses to write it and
    to read its escape, so the hive writes it with the standard library and a client reads it with it."""
    line = encode_line(ok_response(7, body="a\ud800b"))
    assert b"\\ud800" in line and line.endswith(b"\n")
    assert decode_response(line)["body"] == "a\ud800b"
