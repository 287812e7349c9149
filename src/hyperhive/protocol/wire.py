"""The envelope of every line on host.sock and on an agent's mcp.sock (hyperhive wire v1).

One JSON object per line. A request carries `cmd` (snake_case) and its fields; a response carries
`version`, `ok`, and either the verb's result fields or `error` (a sentence) plus `code` (stable, below).
`req_id` is an optional correlation id echoed back: v1 already uses `id` for approval ids, so the
correlation field cannot be called `id`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
MAX_LINE_BYTES = 1024 * 1024
MAX_BODY_BYTES = 256 * 1024


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


def ok_response(req_id: int | str | None = None, **fields: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"version": SCHEMA_VERSION, "ok": True}
    if req_id is not None:
        response["req_id"] = req_id
    response.update(fields)
    return response


def error_response(code: ErrorCode, message: str, req_id: int | str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"version": SCHEMA_VERSION, "ok": False, "error": message, "code": str(code)}
    if req_id is not None:
        response["req_id"] = req_id
    return response


def encode_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode_line(line: bytes) -> dict[str, Any]:
    """Parse one request line into a JSON object, or raise HiveError(BAD_JSON) saying what is wrong."""
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HiveError(ErrorCode.BAD_JSON, f"the line is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise HiveError(ErrorCode.BAD_JSON, f"the line must be a JSON object, not {type(obj).__name__}")
    return obj
