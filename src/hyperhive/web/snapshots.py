"""What each page loads before it follows the feed. Every snapshot takes the feed's cursor *first*: an
update published while the snapshot is read is then sent again after it, and pages apply updates
idempotently (rows by name, messages by id, transcript events by seq), so nothing falls in the gap."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from hyperhive.core.logs import agent_log_path, tail_lines
from hyperhive.core.verbs.host import run
from hyperhive.core.views import dump_messages
from hyperhive.protocol import OPERATOR, HiveError
from hyperhive.protocol import host_requests as rq

from .dispatch import available_actions
from .imagebuilds import with_build_logs
from .sources import call_counts, event_update
from .stats import load_turn_stats, summarize

if TYPE_CHECKING:
    from .dashboard import Dashboard

TRANSCRIPT_PAGE = 200
FLOW_TAIL = 200
INBOX_SIZE = 100
LOG_LINES = 500
# Offered beside the models the hive's agents run on; the Claude CLI resolves these aliases itself.
MODEL_ALIASES = ("haiku", "opus", "sonnet")


def _dump(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """Wire models as the pages read them (the JSON a verb's reply carries)."""
    return [m.model_dump(mode="json") for m in models]


async def _base(d: Dashboard) -> dict[str, Any]:
    cursor = d.feed.cursor()
    return {"cursor": str(cursor), "call": await call_counts(d.hive)}


async def swarm(d: Dashboard) -> dict[str, Any]:
    snap = await _base(d)
    rows = await d.hive.status_rows()
    snap["agents"] = [row.model_dump(mode="json") for row in rows]
    snap["last_turns"] = {row.name: await d.history.last_turn(row.name) for row in rows}
    snap["actions"] = available_actions()
    return snap


async def your_call(d: Dashboard) -> dict[str, Any]:
    snap = await _base(d)
    snap["approvals"] = await approvals(d)
    snap["questions"] = await questions(d)
    snap["inbox"] = _dump((await run(d.hive, rq.OperatorInbox(cmd="inbox", limit=INBOX_SIZE))).messages)
    return snap


async def approvals(d: Dashboard) -> list[dict[str, Any]]:
    """Approval rows of every status, newest first."""
    rows = _dump((await run(d.hive, rq.Pending(cmd="pending"))).approvals)
    return await asyncio.to_thread(with_build_logs, rows)  # a building one with its log so far


async def questions(d: Dashboard) -> list[dict[str, Any]]:
    """Open questions addressed to the operator."""
    found = (await run(d.hive, rq.ListQuestions(cmd="questions", status="open"))).questions
    return _dump([q for q in found if q.target == OPERATOR])


async def flow(d: Dashboard) -> dict[str, Any]:
    snap = await _base(d)
    snap["messages"] = _dump((await run(d.hive, rq.RecentMessages(cmd="recent", limit=FLOW_TAIL))).messages)
    snap["agents"] = d.hive.registry.agent_names()
    return snap


async def schedules(d: Dashboard) -> dict[str, Any]:
    """Every schedule, open and closed, by id; the page splits them."""
    snap = await _base(d)
    snap["schedules"] = _dump((await run(d.hive, rq.ListSchedules(cmd="schedules", all=True))).schedules)
    snap["agents"] = d.hive.registry.agent_names()
    return snap


async def agent(d: Dashboard, name: str) -> dict[str, Any]:
    snap = await _base(d)
    d.hive.registry.require(name)
    row = await d.hive.status_row(name)
    assert row is not None
    snap["row"] = row.model_dump(mode="json")
    snap["loose_ends"] = await loose_ends(d, name)
    snap["models"] = await models(d, name)
    snap["tools"] = await tool_rules(d, name)
    snap["transcript"] = await transcript(d, name, None)
    snap["todos"] = await d.history.latest_todos(name)
    snap["inbox"] = dump_messages(await d.hive.store.inbox_messages(name, 30, False))
    snap["stats"] = await stats(d, name)
    snap["actions"] = available_actions()
    snap["agents"] = d.hive.registry.agent_names()
    return snap


async def loose_ends(d: Dashboard, name: str) -> dict[str, Any]:
    ends = (await run(d.hive, rq.LooseEnds(cmd="loose_ends", agent=name))).loose_ends.model_dump(mode="json")
    ends["approvals"] = await asyncio.to_thread(with_build_logs, ends["approvals"])
    return ends


async def models(d: Dashboard, name: str) -> dict[str, Any]:
    """For the model picker: the deployed agent.toml's `model` and `available_models` (the only choices when
    set), else suggestions: the models the hive's agents run on and the CLI's aliases."""
    try:
        config = await d.hive.deployments.config_of(name)
    except HiveError:  # a peer, or not deployed yet
        configured, available = None, []
    else:
        configured, available = config.model, list(config.available_models)
    running = {row.active_model for row in await d.hive.status_rows() if row.active_model}
    suggested = sorted({*MODEL_ALIASES, *running, *([configured] if configured else [])})
    return {"configured": configured, "available": available, "suggested": suggested}


async def tool_rules(d: Dashboard, name: str) -> dict[str, Any] | None:
    """The deployed agent.toml's `[tools]`: the built-in tools allowed without asking, and those refused.
    None for an agent without one (a peer, or not deployed yet)."""
    try:
        config = await d.hive.deployments.config_of(name)
    except HiveError:
        return None
    return {"allow": config.tools.allowed(), "default": config.tools.allow is None, "deny": list(config.tools.deny)}


async def transcript(d: Dashboard, name: str, before: int | None, limit: int = TRANSCRIPT_PAGE) -> dict[str, Any]:
    events = await d.history.before(before, name, limit)
    return {"events": [event_update(e) for e in events], "has_more": len(events) >= limit}


async def stats(d: Dashboard, name: str) -> dict[str, Any]:
    return summarize(await load_turn_stats(d.hive.store, name), last=d.hive.events.turns.summary(name))


async def logs(d: Dashboard, name: str, lines: int = LOG_LINES) -> dict[str, Any]:
    d.hive.registry.require(name)
    snap = await _base(d)
    path = agent_log_path(d.hive.settings.state_dir, name)
    return {**snap, "name": name, "path": str(path), "lines": await asyncio.to_thread(tail_lines, path, lines)}

