"""An agent's stored events as transcript items a page can draw without knowing Claude Code's format.

Each `turn.stream` payload is one stream-json line of the Claude Code CLI (system/init, assistant with
text and tool_use blocks, user with tool_result blocks, result). Items are small dicts with a `type`:
turn_start, init, text, thinking, tool, result, final, note, turn_end, stats, harness, event (one TypedDict
each below; a value typed `object` is passed on as the CLI or the harness wrote it). Payloads are JSON from
outside, read as `Mapping[str, object]` and narrowed where a value is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic validates these on Python < 3.12

MCP_PREFIX = "mcp__"
HIVE_TOOL_PREFIX = "mcp__hyperhive__"
LABEL_MAX = 160
DETAIL_MAX = 4000
LONG_RESULT_CHARS = 400
LONG_RESULT_LINES = 8

Payload = Mapping[str, object]

TurnStartItem = TypedDict("TurnStartItem", {  # "from" is a keyword: the functional form
    "type": Literal["turn_start"], "from": object, "body": object, "unread": object, "id": object})


class InitItem(TypedDict):
    type: Literal["init"]
    model: object
    session_id: object


class TextItem(TypedDict):
    type: Literal["text", "thinking", "note"]
    text: object


class ToolItem(TypedDict):
    type: Literal["tool"]
    id: object
    name: str
    label: str
    detail: str
    todos: NotRequired[list[object]]  # a TodoWrite call's list, for the agent page's todo panel


class ResultItem(TypedDict):
    type: Literal["result"]
    tool_use_id: object
    text: str
    is_error: bool
    long: bool


class FinalItem(TypedDict):
    type: Literal["final"]
    is_error: bool
    text: str
    subtype: object
    num_turns: object
    cost_usd: object
    duration_ms: object


class TurnEndItem(TypedDict):
    type: Literal["turn_end"]
    ok: bool
    kind: object
    note: object


class StatsItem(TypedDict):
    type: Literal["stats"]
    model: object
    duration_ms: object
    input_tokens: object
    output_tokens: object
    cache_read_tokens: object
    cache_creation_tokens: object
    cost_usd: object
    tool_calls: object
    result_kind: object


class HarnessItem(TypedDict):
    type: Literal["harness"]
    text: str


class EventItem(TypedDict):
    type: Literal["event"]
    kind: str
    text: str
    bad: NotRequired[bool]  # a lifecycle kind that went wrong (crash, failure, kill)


# Tagged by `type`, so pydantic (snapshots.Transcript) validates and dumps each item by its own shape.
Item = Annotated[TurnStartItem | InitItem | TextItem | ToolItem | ResultItem | FinalItem | TurnEndItem | StatsItem
                 | HarnessItem | EventItem, Field(discriminator="type")]


def event_items(kind: str, payload: Payload) -> list[Item]:
    render = _RENDERERS.get(kind)
    if render is not None:
        return render(payload)
    describe = _LIFECYCLE.get(kind)
    if describe is not None:
        return [{"type": "event", "kind": kind, "text": _clip(describe(payload), LABEL_MAX),
                 "bad": kind in _BAD_KINDS}]
    return [{"type": "event", "kind": kind, "text": _clip(_compact(payload), LABEL_MAX)}]


# --- tool labels ------------------------------------------------------------------------------------
def tool_label(name: str, args: Payload) -> str:
    """One line naming what a tool call does: `Read path`, `Bash $ cmd`, `send → bob`."""
    label = _label(name, args)
    return _clip(" ".join(label.split()), LABEL_MAX)


def _label(name: str, args: Payload) -> str:
    arg = _first_arg(args)
    if name.startswith(HIVE_TOOL_PREFIX):
        tool = name.removeprefix(HIVE_TOOL_PREFIX)
        if tool == "send":
            return f"send → {args.get('to', '?')}"
        if tool == "set_status":
            return f"set_status “{args.get('text') or ''}”"
        return f"{tool} {arg}".strip()
    if name == "Bash":
        return f"Bash $ {args.get('command', '')}"
    if name in ("Read", "Write", "Edit", "MultiEdit", "NotebookEdit"):
        return f"{name} {args.get('file_path') or args.get('notebook_path') or ''}".strip()
    if name in ("Grep", "Glob"):
        where = f" in {args['path']}" if args.get("path") else ""
        return f"{name} {args.get('pattern', '')}{where}"
    if name == "TodoWrite":
        todos = args.get("todos")
        return f"TodoWrite ({len(todos) if isinstance(todos, list) else 0} items)"
    if name in ("Task", "Agent"):
        return f"{name} {args.get('description', '')}".strip()
    if name.startswith(MCP_PREFIX):
        server, _, tool = name.removeprefix(MCP_PREFIX).partition("__")
        return f"{server}: {tool} {arg}".strip()
    return f"{name} {arg}".strip()


def _first_arg(args: Payload) -> str:
    for key in ("file_path", "path", "url", "query", "command", "pattern", "name", "text"):
        if isinstance(args.get(key), str):
            return str(args[key])
    return _compact(args) if args else ""


# --- renderers per event kind -----------------------------------------------------------------------
def _turn_start(p: Payload) -> list[Item]:
    return [{"type": "turn_start", "from": p.get("from"), "body": p.get("body", ""), "unread": p.get("unread"),
             "id": p.get("id")}]


def _stream(line: Payload) -> list[Item]:
    kind = line.get("type")
    if kind == "system" and line.get("subtype") == "init":
        return [{"type": "init", "model": line.get("model"), "session_id": line.get("session_id")}]
    if kind == "assistant":
        return [item for block in _blocks(line) if (item := _assistant_block(block))]
    if kind == "user":
        return [item for block in _blocks(line) if (item := _user_block(block))]
    if kind == "result":
        return [{"type": "final", "is_error": bool(line.get("is_error")), "text": str(line.get("result") or ""),
                 "subtype": line.get("subtype"), "num_turns": line.get("num_turns"),
                 "cost_usd": line.get("total_cost_usd"), "duration_ms": line.get("duration_ms")}]
    return []  # partial-message deltas, rate-limit pings and the like: nothing to read


def _blocks(line: Payload) -> list[Payload]:
    content = object_in(line.get("message")).get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def object_in(value: object) -> Payload:
    """`value` if it is a JSON object, else an empty one: for reading a nested key of outside JSON."""
    return value if isinstance(value, dict) else {}


def _assistant_block(block: Payload) -> Item | None:
    kind = block.get("type")
    if kind == "text" and str(block.get("text", "")).strip():
        return {"type": "text", "text": block["text"]}
    if kind == "thinking" and block.get("thinking"):
        return {"type": "thinking", "text": block["thinking"]}
    if kind == "tool_use":
        name = str(block.get("name", "?"))
        args = object_in(block.get("input"))
        item: ToolItem = {"type": "tool", "id": block.get("id"), "name": name, "label": tool_label(name, args),
                      "detail": _clip(json.dumps(args, indent=1, ensure_ascii=False), DETAIL_MAX)}
        todos = args.get("todos")
        if name == "TodoWrite" and isinstance(todos, list):
            item["todos"] = todos
        return item
    return None


def _user_block(block: Payload) -> Item | None:
    if block.get("type") == "tool_result":
        text = _result_text(block.get("content"))
        return {"type": "result", "tool_use_id": block.get("tool_use_id"), "text": text,
                "is_error": bool(block.get("is_error")),
                "long": len(text) > LONG_RESULT_CHARS or text.count("\n") >= LONG_RESULT_LINES}
    if block.get("type") == "text" and str(block.get("text", "")).strip():
        return {"type": "note", "text": block["text"]}
    return None


def _result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [str(c.get("text", "")) if c.get("type") == "text" else f"[{c.get('type')}]"
                 for c in content if isinstance(c, dict)]
        return "\n".join(parts)
    return "" if content is None else _compact(content)


def _turn_end(p: Payload) -> list[Item]:
    return [{"type": "turn_end", "ok": bool(p.get("ok")), "kind": p.get("kind"), "note": p.get("note")}]


def _turn_stats(p: Payload) -> list[Item]:
    return [{"type": "stats", "model": p.get("model"), "duration_ms": p.get("duration_ms"),
             "input_tokens": p.get("input_tokens"), "output_tokens": p.get("output_tokens"),
             "cache_read_tokens": p.get("cache_read_tokens"), "cache_creation_tokens": p.get("cache_creation_tokens"),
             "cost_usd": p.get("cost_usd"), "tool_calls": p.get("tool_calls"), "result_kind": p.get("result_kind")}]


def _harness(p: Payload) -> list[Item]:
    text = " ".join(str(v) for v in (p.get("activity"), p.get("detail")) if v) or _compact(p)
    return [{"type": "harness", "text": _clip(text, LABEL_MAX)}]


def _note(p: Payload) -> list[Item]:
    return [{"type": "note", "text": str(p.get("text", ""))}]


_RENDERERS: dict[str, Callable[[Payload], list[Item]]] = {
    "turn.turn_start": _turn_start,
    "turn.stream": _stream,
    "turn.note": _note,
    "turn.turn_end": _turn_end,
    "turn.turn_stats": _turn_stats,
    "turn.harness": _harness,
}


# --- the agent's other events, as one line each ------------------------------------------------------
def _approval(p: Payload) -> str:
    a = object_in(p["approval"]) if "approval" in p else p
    note = f": {a['note']}" if a.get("note") else ""
    return f"approval #{a.get('id')} {a.get('kind', '')} {a.get('status', '')}{note}"


def _question(p: Payload) -> str:
    asked = f"#{p.get('id')} {p.get('asker')} → {p.get('target')}: {p.get('question', '')}"
    return asked if p.get("status") == "open" else f"{asked} — {p.get('answer')}"


_LIFECYCLE: dict[str, Callable[[Payload], str]] = {
    "started": lambda p: f"started (pid {p.get('pid')}): {p.get('why', '')}",
    "stopped": lambda p: f"stopped: {p.get('exit') or ''}",
    "killed": lambda p: f"killed: {p.get('exit') or ''}",
    "destroyed": lambda p: "destroyed and purged" if p.get("purged") else "destroyed (state kept)",
    "container_crash": lambda p: f"crashed: {p.get('exit', '')}",
    "agent_failed": lambda p: f"failed: {p.get('note', '')}",
    "start_failed": lambda p: f"did not start: {p.get('error', '')}",
    "limits_unapplied": lambda p: f"limits not applied: {'; '.join(map(str, _list(p.get('unapplied'))))}",
    "rebuilt": lambda p: f"deployed {str(p.get('sha') or '')[:8]} (approval #{p.get('approval_id')})",
    "config_ready": lambda p: "config repo ready",
    "logged_in": lambda p: "logged in again",
    "approval_requested": _approval,
    "approval_updated": _approval,
    "approval_resolved": _approval,
    "question_asked": lambda p: f"asked {_question(p)}",
    "question_answered": lambda p: f"question {_question(p)}",
}
_BAD_KINDS = frozenset({"container_crash", "agent_failed", "start_failed", "killed"})


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
