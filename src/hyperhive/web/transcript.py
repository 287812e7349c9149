"""An agent's stored events as transcript items a page can draw without knowing Claude Code's format.

Each `turn.stream` payload is one stream-json line of the Claude Code CLI (system/init, assistant with
text and tool_use blocks, user with tool_result blocks, result). Items are small dicts with a `type`:
turn_start, init, text, thinking, tool, result, final, note, turn_end, stats, harness, event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MCP_PREFIX = "mcp__"
HIVE_TOOL_PREFIX = "mcp__hyperhive__"
LABEL_MAX = 160
DETAIL_MAX = 4000
LONG_RESULT_CHARS = 400
LONG_RESULT_LINES = 8

Item = dict[str, Any]


def event_items(kind: str, payload: dict[str, Any]) -> list[Item]:
    render = _RENDERERS.get(kind)
    if render is not None:
        return render(payload)
    describe = _LIFECYCLE.get(kind)
    if describe is not None:
        return [{"type": "event", "kind": kind, "text": _clip(describe(payload), LABEL_MAX),
                 "bad": kind in _BAD_KINDS}]
    return [{"type": "event", "kind": kind, "text": _clip(_compact(payload), LABEL_MAX)}]


# --- tool labels ------------------------------------------------------------------------------------
def tool_label(name: str, args: dict[str, Any]) -> str:
    """One line naming what a tool call does: `Read path`, `Bash $ cmd`, `send → bob`."""
    label = _label(name, args)
    return _clip(" ".join(label.split()), LABEL_MAX)


def _label(name: str, args: dict[str, Any]) -> str:
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


def _first_arg(args: dict[str, Any]) -> str:
    for key in ("file_path", "path", "url", "query", "command", "pattern", "name", "text"):
        if isinstance(args.get(key), str):
            return str(args[key])
    return _compact(args) if args else ""


# --- renderers per event kind -----------------------------------------------------------------------
def _turn_start(p: dict[str, Any]) -> list[Item]:
    return [{"type": "turn_start", "from": p.get("from"), "body": p.get("body", ""), "unread": p.get("unread"),
             "id": p.get("id")}]


def _stream(line: dict[str, Any]) -> list[Item]:
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


def _blocks(line: dict[str, Any]) -> list[dict[str, Any]]:
    content = (line.get("message") or {}).get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _assistant_block(block: dict[str, Any]) -> Item | None:
    kind = block.get("type")
    if kind == "text" and str(block.get("text", "")).strip():
        return {"type": "text", "text": block["text"]}
    if kind == "thinking" and block.get("thinking"):
        return {"type": "thinking", "text": block["thinking"]}
    if kind == "tool_use":
        name = str(block.get("name", "?"))
        given = block.get("input")
        args: dict[str, Any] = given if isinstance(given, dict) else {}
        item: Item = {"type": "tool", "id": block.get("id"), "name": name, "label": tool_label(name, args),
                      "detail": _clip(json.dumps(args, indent=1, ensure_ascii=False), DETAIL_MAX)}
        if name == "TodoWrite" and isinstance(args.get("todos"), list):
            item["todos"] = args["todos"]
        return item
    return None


def _user_block(block: dict[str, Any]) -> Item | None:
    if block.get("type") == "tool_result":
        text = _result_text(block.get("content"))
        return {"type": "result", "tool_use_id": block.get("tool_use_id"), "text": text,
                "is_error": bool(block.get("is_error")),
                "long": len(text) > LONG_RESULT_CHARS or text.count("\n") >= LONG_RESULT_LINES}
    if block.get("type") == "text" and str(block.get("text", "")).strip():
        return {"type": "note", "text": block["text"]}
    return None


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [str(c.get("text", "")) if c.get("type") == "text" else f"[{c.get('type')}]"
                 for c in content if isinstance(c, dict)]
        return "\n".join(parts)
    return "" if content is None else _compact(content)


def _turn_end(p: dict[str, Any]) -> list[Item]:
    return [{"type": "turn_end", "ok": bool(p.get("ok")), "kind": p.get("kind"), "note": p.get("note")}]


def _turn_stats(p: dict[str, Any]) -> list[Item]:
    keys = ("model", "duration_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
            "cost_usd", "tool_calls", "result_kind")
    return [{"type": "stats", **{k: p.get(k) for k in keys}}]


def _harness(p: dict[str, Any]) -> list[Item]:
    text = " ".join(str(v) for v in (p.get("activity"), p.get("detail")) if v) or _compact(p)
    return [{"type": "harness", "text": _clip(text, LABEL_MAX)}]


def _note(p: dict[str, Any]) -> list[Item]:
    return [{"type": "note", "text": str(p.get("text", ""))}]


_RENDERERS: dict[str, Callable[[dict[str, Any]], list[Item]]] = {
    "turn.turn_start": _turn_start,
    "turn.stream": _stream,
    "turn.note": _note,
    "turn.turn_end": _turn_end,
    "turn.turn_stats": _turn_stats,
    "turn.harness": _harness,
}


# --- the agent's other events, as one line each ------------------------------------------------------
def _approval(p: dict[str, Any]) -> str:
    a = p.get("approval", p)
    note = f": {a['note']}" if a.get("note") else ""
    return f"approval #{a.get('id')} {a.get('kind', '')} {a.get('status', '')}{note}"


def _question(p: dict[str, Any]) -> str:
    asked = f"#{p.get('id')} {p.get('asker')} → {p.get('target')}: {p.get('question', '')}"
    return asked if p.get("status") == "open" else f"{asked} — {p.get('answer')}"


_LIFECYCLE: dict[str, Callable[[dict[str, Any]], str]] = {
    "started": lambda p: f"started (pid {p.get('pid')}): {p.get('why', '')}",
    "stopped": lambda p: f"stopped: {p.get('exit') or ''}",
    "killed": lambda p: f"killed: {p.get('exit') or ''}",
    "destroyed": lambda p: "destroyed and purged" if p.get("purged") else "destroyed (state kept)",
    "container_crash": lambda p: f"crashed: {p.get('exit', '')}",
    "agent_failed": lambda p: f"failed: {p.get('note', '')}",
    "start_failed": lambda p: f"did not start: {p.get('error', '')}",
    "limits_unapplied": lambda p: f"limits not applied: {'; '.join(map(str, p.get('unapplied') or []))}",
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


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
