"""Output for people (aligned tables) and for scripts (--json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click
from pydantic_core import to_jsonable_python


def emit_json(obj: Any) -> None:
    """JSON as the wire carries it: reply models (and lists of them) as their fields."""
    click.echo(json.dumps(to_jsonable_python(obj), indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h).upper() for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def age(rfc3339: str | None) -> str:
    """'3m', '2h', '5d' since an RFC 3339 time; '-' for none."""
    if not rfc3339:
        return "-"
    seconds = (datetime.now(UTC) - datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(int(seconds), 0)}s"


def one_line(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
