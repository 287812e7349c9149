"""Plumbing both store backends (and their helper tasks) share."""

from __future__ import annotations

import asyncio
import contextlib

from .records import AgentRecord

# The columns a new agent's row is made with (the rest take their defaults), in the order of its values.
_AGENT_INSERT_COLUMNS = ("name", "kind", "description", "parent", "paused", "status_text", "status_set_at",
                         "active_model", "deployed_sha", "needs_login", "needs_update", "last_seen", "created_at",
                         "lifecycle", "node")


def agent_insert(agent: AgentRecord, placeholder: str) -> tuple[str, tuple[object, ...]]:
    """The INSERT of `agent`'s row and its parameters, in the driver's `placeholder` style (`?` or `%s`)."""
    marks = ", ".join(placeholder for _ in _AGENT_INSERT_COLUMNS)
    sql = f"INSERT INTO agents ({', '.join(_AGENT_INSERT_COLUMNS)}) VALUES ({marks})"
    return sql, tuple(getattr(agent, column) for column in _AGENT_INSERT_COLUMNS)


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and return once it has ended (cancelled is how it is meant to end)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
