"""Errors a client of a hive socket can meet."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import orjson

from hyperhive.protocol import ErrorCode, HiveError


class RequestFailed(HiveError):
    """The hive answered `ok: false`."""


class Unreachable(HiveError):
    """Nothing answers on the socket: the daemon is not running, or the socket is not ours to open."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, message)


def unreachable(path: Path, exc: OSError) -> Unreachable:
    if isinstance(exc, FileNotFoundError):
        return Unreachable(f"no hive socket at {path}: hive-c0re is not running (start it with scripts/up), "
                           "or set HYPERHIVE_RUNTIME_DIR to the dir it uses")
    if isinstance(exc, PermissionError):
        return Unreachable(f"permission denied on {path}: join the 'hive-admin' group or run as the hive's user")
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return Unreachable(f"{path} exists but nothing answers: hive-c0re is not running (a stale socket)")
    return Unreachable(f"cannot reach the hive at {path}: {exc.strerror or exc}")


def raise_for(response: dict[str, object]) -> dict[str, object]:
    if response.get("ok") is True:
        return response
    code = response.get("code")
    try:
        error_code = ErrorCode(str(code))
    except ValueError:
        error_code = ErrorCode.INTERNAL
    raise RequestFailed(error_code, str(response.get("error") or "the hive refused the request"))


def decode_response(line: bytes) -> dict[str, object]:
    """One response line: its object when ok, else RequestFailed with the hive's sentence."""
    try:
        response = _loads(line)
    except json.JSONDecodeError:
        raise RequestFailed(ErrorCode.INTERNAL, f"the hive sent a line that is not JSON: {line[:80]!r}") from None
    if not isinstance(response, dict):
        raise RequestFailed(ErrorCode.INTERNAL, f"the hive sent a line that is not an object: {line[:80]!r}")
    return raise_for(response)


def _loads(line: bytes) -> object:
    """orjson (in C) for the hive's lines; the standard library for what orjson refuses and JSON allows: a
    lone surrogate's escape, which the hive sends for text stored before requests were checked."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)
