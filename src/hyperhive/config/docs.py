"""The key tables of docs/config.md, generated from the models so the docs cannot fall behind them.

    python -m hyperhive.config.docs docs/config.md          rewrite the generated blocks
    python -m hyperhive.config.docs --check docs/config.md  exit 1 if they are stale
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import AfterValidator, BaseModel
from pydantic_core import PydanticUndefined

from .agent_toml import AgentConfig
from .fields import TYPE_LABELS
from .host_policy import HostPolicy

BLOCKS: dict[str, type[BaseModel]] = {"agent.toml": AgentConfig, "host.toml": HostPolicy}


def reference_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every key of `model`, nested tables flattened into dotted keys:
    `restart.policy`, `mcp_servers.<name>.command`, `bind_mounts[].host`."""
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + name
        meaning = " ".join((field.description or "").split())
        shown = type_name(typing.Annotated[field.annotation, *field.metadata]) if field.metadata else (
            type_name(field.annotation))
        rows.append((key, shown, _default(field.default), meaning))
        nested, suffix = _nested(field.annotation)
        if nested is not None:
            rows.extend(reference_rows(nested, key + suffix))
    return rows


def render_table(model: type[BaseModel]) -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for row in reference_rows(model):
        cells = [f"`{row[0]}`", *row[1:]]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        labels = [TYPE_LABELS[m.func] for m in annotation.__metadata__
                  if isinstance(m, AfterValidator) and m.func in TYPE_LABELS]
        return labels[0] if labels else type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        return " or ".join(type_name(arg) for arg in rest) + (" (optional)" if len(rest) < len(args) else "")
    if origin is typing.Literal:
        return " or ".join(f'"{arg}"' for arg in args)
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"table: {type_name(args[0])} → {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return simple.get(annotation, str(annotation))


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "."
    if origin is list and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "[]."
    if origin is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return args[1], ".<name>."
    return None, ""


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        shown = ", ".join(f"{k} = {_scalar(v)}" for k, v in value.model_dump(exclude_none=True).items())
        return f"`{{ {shown} }}`" if shown else "`{}`"
    return f"`{_scalar(value)}`"


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)


def _markers(block: str) -> tuple[str, str]:
    return f"<!-- generated: {block} -->\n", f"<!-- end generated: {block} -->"


def regenerate(text: str) -> str:
    """`text` with each generated block replaced by the table of its model."""
    for block, model in BLOCKS.items():
        start, end = _markers(block)
        head, found, rest = text.partition(start)
        if not found:
            raise ValueError(f"docs: no {start.strip()} marker")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"docs: no {end} marker")
        text = head + start + render_table(model) + end + tail
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [arg for arg in argv if arg != "--check"]
    if len(paths) != 1:
        print("usage: python -m hyperhive.config.docs [--check] docs/config.md", file=sys.stderr)
        return 2
    path = Path(paths[0])
    current = path.read_text(encoding="utf-8")
    fresh = regenerate(current)
    if check:
        if fresh != current:
            print(f"{path} is stale: run python -m hyperhive.config.docs {path}", file=sys.stderr)
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
