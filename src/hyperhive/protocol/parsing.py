"""Turn a decoded request object into a typed request, or a HiveError whose sentence says what is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .fields import TooLarge
from .names import InvalidName
from .wire import SCHEMA_VERSION, ErrorCode, HiveError

T = TypeVar("T")


def parse_request(adapter: TypeAdapter[T], obj: Mapping[str, object]) -> T:
    cmd = obj.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise HiveError(ErrorCode.BAD_REQUEST, 'the request has no "cmd" naming its verb')
    version = obj.get("version")
    if version is not None and version != SCHEMA_VERSION:
        raise HiveError(
            ErrorCode.VERSION_MISMATCH,
            f"this hive speaks wire version {SCHEMA_VERSION}, the request says version {version!r}",
        )
    try:
        return adapter.validate_python(obj)
    except ValidationError as exc:
        raise _to_hive_error(cmd, exc.errors()[0]) from None


def _to_hive_error(cmd: str, err: ErrorDetails) -> HiveError:
    kind = err["type"]
    where = ".".join(str(p) for p in err["loc"][1:] if not _is_type_tag(p))  # loc[0] is the union tag
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return HiveError(ErrorCode.UNKNOWN_CMD, f"unknown cmd {cmd!r}")
    if kind == "extra_forbidden":
        return HiveError(ErrorCode.UNKNOWN_FIELD, f"unknown field {where!r} in a {cmd!r} request")
    if kind == "missing":
        return HiveError(ErrorCode.BAD_REQUEST, f"a {cmd!r} request needs the field {where!r}")
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidName):
        return HiveError(ErrorCode.INVALID_NAME, str(cause))
    if isinstance(cause, TooLarge):
        return HiveError(ErrorCode.LIMIT, f"field {where!r} of a {cmd!r} request: {cause}")
    message = str(cause) if isinstance(cause, ValueError) else err["msg"]
    field = f"field {where!r}" if where else "the request"
    return HiveError(ErrorCode.BAD_REQUEST, f"{field} of a {cmd!r} request: {message}")


_TYPE_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "none"})


def _is_type_tag(part: str | int) -> bool:
    """pydantic names the member of a union it tried (`constrained-int`, `function-after[…]`); the user
    wants the field's name only."""
    return isinstance(part, str) and (part in _TYPE_TAGS or "-" in part or "[" in part)
