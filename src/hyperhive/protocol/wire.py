"""The envelope of every line on host.sock and on an agent's mcp.sock (hyperhive wire v1).

One JSON object per line. A request carries `cmd` (snake_case) and its fields; a response carries
`version`, `ok`, and either the verb's result fields or `error` (a sentence) plus `code` (stable, below).
`req_id` is an optional correlation id echoed back: v1 already uses `id` for approval ids, so the
correlation field cannot be called `id`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import NoReturn

import orjson

SCHEMA_VERSION = 1
MAX_LINE_BYTES = 1024 * 1024
MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 100  # nesting of a request's arrays and objects; far below Python's recursion limit
MAX_REQ_ID_CHARS = 200
INT64_MAX = 2**63 - 1


class ErrorCode(StrEnum):
    """Stable error codes. Never renumber or rename: scripts branch on them (hivectl maps them to exit codes)."""

    BAD_JSON = "bad_json"
    LINE_TOO_LONG = "line_too_long"
    BAD_REQUEST = "bad_request"
    UNKNOWN_CMD = "unknown_cmd"
    UNKNOWN_FIELD = "unknown_field"
    VERSION_MISMATCH = "version_mismatch"
    INVALID_NAME = "invalid_name"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    CONFLICT = "conflict"
    LIMIT = "limit"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


# Exit codes for hivectl, one per code, so scripts can tell "no such agent" from "daemon down".
EXIT_CODES: dict[ErrorCode, int] = {
    ErrorCode.BAD_JSON: 2,
    ErrorCode.LINE_TOO_LONG: 2,
    ErrorCode.BAD_REQUEST: 2,
    ErrorCode.UNKNOWN_CMD: 2,
    ErrorCode.UNKNOWN_FIELD: 2,
    ErrorCode.VERSION_MISMATCH: 2,
    ErrorCode.INVALID_NAME: 2,
    ErrorCode.NOT_FOUND: 4,
    ErrorCode.NOT_ALLOWED: 5,
    ErrorCode.CONFLICT: 6,
    ErrorCode.LIMIT: 7,
    ErrorCode.UNAVAILABLE: 69,  # EX_UNAVAILABLE: daemon not running or socket not reachable
    ErrorCode.INTERNAL: 70,  # EX_SOFTWARE
}


class HiveError(Exception):
    """An error that becomes an `ok: false` response with a stable code and a human sentence."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def ok_response(req_id: int | str | None = None, **fields: object) -> dict[str, object]:
    response: dict[str, object] = {"version": SCHEMA_VERSION, "ok": True}
    if req_id is not None:
        response["req_id"] = req_id
    response.update(fields)
    return response


def error_response(code: ErrorCode, message: str, req_id: int | str | None = None) -> dict[str, object]:
    response: dict[str, object] = {"version": SCHEMA_VERSION, "ok": False, "error": message, "code": str(code)}
    if req_id is not None:
        response["req_id"] = req_id
    return response


def encode_line(obj: Mapping[str, object]) -> bytes:
    try:  # orjson, in C from end to end; what it refuses (a lone surrogate, an int past 64 bits) goes on below
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        pass
    try:
        return (_ENCODER.encode(obj) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate stored before requests were checked: escape it, still JSON
        return (_ASCII_ENCODER.encode(obj) + "\n").encode()


def decode_line(line: bytes) -> dict[str, object]:
    """Parse one request into a JSON object, or raise HiveError(BAD_JSON) saying what is wrong.

    Beyond JSON's grammar a request must be text the hive can store and send back: no NaN or Infinity,
    no lone UTF-16 surrogate, no nesting deeper than MAX_DEPTH."""
    if line.startswith(b'{"') and not _LONG_DIGITS.search(line):
        try:  # the common line, read by orjson in C; anything it refuses is read again below, to say why
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
        else:
            if _may_break_rules(line):
                _check_tree(obj)
            return obj  # type: ignore[no-any-return]  # a line opening with `{"` that parses is an object
    return _decode_slowly(line)


# A run of digits long enough to pass int64: orjson reads such a number as a float where the standard library
# keeps the integer, so a line with one is read by the standard library.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _decode_slowly(line: bytes) -> dict[str, object]:
    """The standard library's reading: any encoding JSON allows, numbers of any size, and its own sentences
    for what is wrong."""
    encoding = json.detect_encoding(line)
    try:  # as json.loads takes bytes (UTF-8, -16 or -32), with one decoder made once rather than per line
        obj = _DECODER.decode(line.decode(encoding, "surrogatepass"))
    except RecursionError:
        raise HiveError(ErrorCode.BAD_JSON, f"the line nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError; an integer of over 4300 digits
        raise HiveError(ErrorCode.BAD_JSON, f"the line is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise HiveError(ErrorCode.BAD_JSON, f"the line must be a JSON object, not {type(obj).__name__}")
    if encoding != "utf-8" or _may_break_rules(line):
        _check_tree(obj)
    return obj


def req_id_of(obj: Mapping[str, object]) -> int | str | None:
    """The request's `req_id` if it is one the response may echo (an int64 or a short text), else None."""
    req_id = obj.get("req_id")
    if isinstance(req_id, bool):
        return None
    if isinstance(req_id, int) and abs(req_id) <= INT64_MAX:
        return req_id
    if isinstance(req_id, str) and len(req_id) <= MAX_REQ_ID_CHARS:
        return req_id
    return None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _may_break_rules(line: bytes) -> bool:
    """Whether a UTF-8 line needs the walk of `_check_tree`: a lone surrogate needs a non-ASCII byte or a
    `\\u` escape, and a depth over MAX_DEPTH needs that many `{` or `[`. Most lines have none of these: the
    walk, which costs as much as the parse, is left out for them (a false alarm only costs the walk)."""
    return (not line.isascii() or b"\\u" in line
            or line.count(b"{") + line.count(b"[") > MAX_DEPTH)


def _check_tree(root: Mapping[str, object]) -> None:
    """Walk the decoded request without recursion: its depth and its text."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise HiveError(ErrorCode.BAD_JSON, f"the line nests deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((item, depth + 1))


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        point = ord(text[exc.start])
        raise HiveError(ErrorCode.BAD_JSON, f"the line holds a lone surrogate (\\u{point:04x}), which is not a "
                        "character: send text as UTF-8") from None
