"""Claude Code stream-json lines as the harness reports them (shapes from a real 2.1.x CLI run)."""

from __future__ import annotations

from typing import Any


def init(model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    return {"type": "system", "subtype": "init", "session_id": "5f0c1a2b-aaaa", "model": model, "tools": []}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "assistant", "message": {"role": "assistant", "content": list(blocks)}}


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


def tool_use(tool_id: str, name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": args}


def tool_result(tool_id: str, content: str, is_error: bool = False) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": [{"type": "text", "text": content}],
             "is_error": is_error}
    return {"type": "user", "message": {"role": "user", "content": [block]}}


def result(cost: float = 0.0123) -> dict[str, Any]:
    return {"type": "result", "subtype": "success", "is_error": False, "result": "done", "num_turns": 3,
            "total_cost_usd": cost, "duration_ms": 4200}
