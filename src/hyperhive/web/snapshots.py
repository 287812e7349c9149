"""What each page loads before it follows the feed. Every snapshot takes the feed's cursor *first*: an
update published while the snapshot is read is then sent again after it, and pages apply updates
idempotently (rows by name, messages by id, transcript events by seq), so nothing falls in the gap."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from hyperhive.core import views
from hyperhive.core.logs import agent_log_path, tail_lines
from hyperhive.core.verbs.host import run
from hyperhive.protocol import OPERATOR, HiveError, Message, StatusRow
from hyperhive.protocol import host_requests as rq
from hyperhive.protocol import replies as rp

from .dispatch import ActionButton, available_actions
from .history import LastTurn, Todo
from .imagebuilds import with_build_logs
from .sources import EventUpdate, call_counts, event_update
from .stats import Stats, load_turn_stats, summarize

if TYPE_CHECKING:
    from .dashboard import Dashboard

TRANSCRIPT_PAGE = 200
FLOW_TAIL = 200
INBOX_SIZE = 100
LOG_LINES = 500
# Offered beside the models the hive's agents run on; the Claude CLI resolves these aliases itself.
MODEL_ALIASES = ("haiku", "opus", "sonnet")


class Snapshot(BaseModel):
    """What a page starts from; its JSON is the page's inline snapshot and its `.json` twin. The feed's
    cursor (taken first) and the "your call" counts are on every page."""

    model_config = ConfigDict(frozen=True)
    cursor: str
    call: dict[str, int]


class SwarmPage(Snapshot):
    agents: list[StatusRow]
    last_turns: dict[str, LastTurn | None]
    actions: list[ActionButton]


class CallPage(Snapshot):
    approvals: list[rp.Approval]  # a building one with its log's tail (imagebuilds.py)
    questions: list[rp.Question]
    inbox: list[Message]


class FlowPage(Snapshot):
    messages: list[Message]
    agents: list[str]


class SchedulesPage(Snapshot):
    schedules: list[rp.Schedule]
    agents: list[str]


class Models(BaseModel):
    configured: str | None
    available: list[str]
    suggested: list[str]


class ToolRules(BaseModel):
    allow: list[str]
    default: bool
    deny: list[str]


class Transcript(BaseModel):
    events: list[EventUpdate]
    has_more: bool


class AgentPage(Snapshot):
    row: StatusRow
    loose_ends: rp.LooseEnds  # the loose_ends verb's, approvals with their build logs
    models: Models
    tools: ToolRules | None
    transcript: Transcript
    todos: list[Todo] | None
    inbox: list[Message]
    stats: Stats
    actions: list[ActionButton]
    agents: list[str]


class LogsPage(Snapshot):
    name: str
    path: str
    lines: list[str]


async def _base(d: Dashboard) -> Snapshot:
    cursor = d.feed.cursor()
    return Snapshot(cursor=str(cursor), call=await call_counts(d.hive))


async def swarm(d: Dashboard) -> SwarmPage:
    base = await _base(d)
    rows = await d.hive.status_rows()
    return SwarmPage(**dict(base), agents=rows,
                     last_turns={row.name: await d.history.last_turn(row.name) for row in rows},
                     actions=available_actions())


async def your_call(d: Dashboard) -> CallPage:
    base = await _base(d)
    return CallPage(**dict(base), approvals=await approvals(d), questions=await questions(d),
                    inbox=(await run(d.hive, rq.OperatorInbox(cmd="inbox", limit=INBOX_SIZE))).messages)


async def approvals(d: Dashboard) -> list[rp.Approval]:
    """Approval rows of every status, newest first."""
    rows = (await run(d.hive, rq.Pending(cmd="pending"))).approvals
    return await asyncio.to_thread(with_build_logs, rows)  # a building one with its log so far


async def questions(d: Dashboard) -> list[rp.Question]:
    """Open questions addressed to the operator."""
    found = (await run(d.hive, rq.ListQuestions(cmd="questions", status="open"))).questions
    return [q for q in found if q.target == OPERATOR]


async def flow(d: Dashboard) -> FlowPage:
    base = await _base(d)
    recent = await run(d.hive, rq.RecentMessages(cmd="recent", limit=FLOW_TAIL))
    return FlowPage(**dict(base), messages=recent.messages, agents=d.hive.registry.agent_names())


async def schedules(d: Dashboard) -> SchedulesPage:
    """Every schedule, open and closed, by id; the page splits them."""
    base = await _base(d)
    found = await run(d.hive, rq.ListSchedules(cmd="schedules", all=True))
    return SchedulesPage(**dict(base), schedules=found.schedules, agents=d.hive.registry.agent_names())


async def agent(d: Dashboard, name: str) -> AgentPage:
    base = await _base(d)
    d.hive.registry.require(name)
    row = await d.hive.status_row(name)
    assert row is not None
    return AgentPage(**dict(base), row=row, loose_ends=await loose_ends(d, name), models=await models(d, name),
                     tools=await tool_rules(d, name), transcript=await transcript(d, name, None),
                     todos=await d.history.latest_todos(name),
                     inbox=views.messages(await d.hive.store.inbox_messages(name, 30, False)),
                     stats=await stats(d, name), actions=available_actions(), agents=d.hive.registry.agent_names())


async def loose_ends(d: Dashboard, name: str) -> rp.LooseEnds:
    ends = (await run(d.hive, rq.LooseEnds(cmd="loose_ends", agent=name))).loose_ends
    return ends.model_copy(update={"approvals": await asyncio.to_thread(with_build_logs, ends.approvals)})


async def models(d: Dashboard, name: str) -> Models:
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
    return Models(configured=configured, available=available, suggested=suggested)


async def tool_rules(d: Dashboard, name: str) -> ToolRules | None:
    """The deployed agent.toml's `[tools]`: the built-in tools allowed without asking, and those refused.
    None for an agent without one (a peer, or not deployed yet)."""
    try:
        config = await d.hive.deployments.config_of(name)
    except HiveError:
        return None
    return ToolRules(allow=config.tools.allowed(), default=config.tools.allow is None, deny=list(config.tools.deny))


async def transcript(d: Dashboard, name: str, before: int | None, limit: int = TRANSCRIPT_PAGE) -> Transcript:
    events = await d.history.before(before, name, limit)
    return Transcript(events=[event_update(e) for e in events], has_more=len(events) >= limit)


async def stats(d: Dashboard, name: str) -> Stats:
    return summarize(await load_turn_stats(d.hive.store, name), last=d.hive.events.turns.summary(name))


async def logs(d: Dashboard, name: str, lines: int = LOG_LINES) -> LogsPage:
    d.hive.registry.require(name)
    base = await _base(d)
    path = agent_log_path(d.hive.settings.state_dir, name)
    return LogsPage(**dict(base), name=name, path=str(path), lines=await asyncio.to_thread(tail_lines, path, lines))

