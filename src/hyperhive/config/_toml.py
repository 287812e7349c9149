"""Shared by agent.toml and host.toml: parse TOML text, validate it against a model, and turn every failure
into a ConfigError whose issues name the key as a dotted path (`restart.policy`, `bind_mounts[0].host`)."""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .errors import ConfigError, ConfigIssue, KeyedValueError

MAX_CONFIG_BYTES = 256 * 1024
_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

M = TypeVar("M", bound=BaseModel)


def parse_toml(text: str, source: str) -> dict[str, object]:
    """Parse TOML text, or raise ConfigError with the line (and column) of the syntax error. What it holds
    is anybody's until `validate` reads it into its model."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [ConfigIssue("", f"the file is larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; the position is in the message.
        message = str(exc)
        found = _LINE.search(message)
        line = int(found.group(1)) if found else None
        reason = message[:1].lower() + message[1:]
        raise ConfigError(source, [ConfigIssue("", f"not valid TOML: {reason}")], line=line) from None


def validate(model: type[M], data: Mapping[str, object], source: str) -> M:
    """Validate parsed TOML against `model`; every pydantic error becomes a ConfigIssue naming its key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues = [_issue(model, error) for error in exc.errors(include_url=False)]
        raise ConfigError(source, issues) from None


def dotted_key(loc: Sequence[int | str]) -> str:
    """('bind_mounts', 0, 'host') -> 'bind_mounts[0].host'; keys that are not bare TOML keys are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue  # pydantic's marker for "the dict key itself failed"; the reason says so
        else:
            shown = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{shown}" if out else shown
    return out


def _issue(model: type[BaseModel], error: ErrorDetails) -> ConfigIssue:
    loc = tuple(error["loc"])
    keyed = (error.get("ctx") or {}).get("error")
    if isinstance(keyed, KeyedValueError):
        return ConfigIssue(dotted_key((*loc, *keyed.key.split("."))), keyed.reason)
    key = dotted_key(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return ConfigIssue(key, "unknown key" + _hint(model, loc))
    if kind == "missing":
        return ConfigIssue(key, "required key is missing")
    if loc and loc[-1] == "[key]":
        return ConfigIssue(key, "invalid key: " + _reason(error))
    return ConfigIssue(key, _reason(error))


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    message = error["msg"]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "should be a table"  # pydantic would name the model class, which no TOML author knows
    elif kind == "literal_error":
        message = f"must be {ctx.get('expected', '')}"
    message = re.sub(r"^(Input|String|List|Dictionary|Value) should", "should", message)
    value = error.get("input")
    if isinstance(value, dict | list) or value is None:
        return message
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"{message}, not {shown}"


def _hint(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """' (did you mean 'policy'?)' when the unknown key is close to a field of the model it sits in."""
    fields = _fields_at(model, loc[:-1])
    wrong = loc[-1] if loc else ""
    if not fields or not isinstance(wrong, str):
        return ""
    close = difflib.get_close_matches(wrong, fields, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model found by following `loc` from `model` through fields, lists and dicts."""
    current: Any = model
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        current = _unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(step, str) or step not in current.model_fields:
                return []
            current = current.model_fields[step].annotation
            continue
        origin, args = typing.get_origin(current), typing.get_args(current)
        if origin in (list, tuple) and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return []
    current = _unwrap_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def raise_config_error(source: str, key: str, reason: str) -> typing.NoReturn:
    raise ConfigError(source, [ConfigIssue(key, reason)])
