"""Rows as the store hands them out. Times are Unix seconds; the protocol layer formats them.

Where a row is what the wire carries (a question, a usage total) the store hands out the protocol's own
model; where only the times' spelling differs (a message, a reminder) the row and the wire's model share a
base generic over the time type (protocol.models.Letter, replies.ReminderBase)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from hyperhive.protocol.models import Letter
from hyperhive.protocol.replies import Question, ReminderBase
from hyperhive.protocol.replies import QuestionStatus as QuestionStatus  # the store names it too

AgentKind = Literal["managed", "peer"]

@dataclass(frozen=True)
class AgentRecord:
    name: str
    kind: AgentKind
    created_at: float
    description: str = ""
    parent: str | None = None
    paused: bool = False
    status_text: str | None = None
    status_set_at: float | None = None
    active_model: str | None = None
    deployed_sha: str | None = None
    needs_login: bool = False
    needs_update: bool = False
    last_seen: float | None = None
    # managed agents: what the operator wants (running, stopped, destroyed), or failed: the restart policy
    # gave up, and no daemon start brings it back until someone starts it
    lifecycle: str = "stopped"
    running_build: str | None = None  # JSON: what its running sandbox was started with (core/builds.py)
    node: str | None = None  # the node whose supervisor runs it (a hive over several hosts)
    observed: str | None = None  # its sandbox's state as its node's supervisor last saw it (for the other nodes)


# Columns of `agents` that callers may change through Store.update_agent: all but what names the agent.
AGENT_MUTABLE_FIELDS = frozenset(f.name for f in fields(AgentRecord)) - {"name", "kind", "created_at"}


@dataclass(frozen=True)
class NewMessage:
    sender: str
    recipient: str
    body: str
    sent_at: float
    in_reply_to: int | None = None
    broadcast: bool = False
    # Stored already handed to a waiting reader (the broker's direct hand-off): only on a backend whose
    # `hands_off` is True; the others never get them set.
    delivered_at: float | None = None
    acked_at: float | None = None


class MessageRecord(Letter[float]):
    """A message as the store keeps it: its times Unix seconds. A purged recipient's unread mail is dropped
    (`dropped_at`): never delivered, never handed to a namesake."""


@dataclass(frozen=True)
class NewEvent:
    kind: str
    agent: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    at: float | None = None


@dataclass(frozen=True)
class EventRecord:
    seq: int
    at: float
    agent: str | None
    kind: str
    payload: dict[str, Any]


class ReminderRecord(ReminderBase[float]):
    delivered_at: float | None = None
    cancelled_at: float | None = None
    message_id: int | None = None


# A question is kept as the wire carries it (its times are Unix seconds there too): one model for both.
QuestionRecord = Question


ApprovalStatus = Literal["pending", "approved", "denied", "failed", "cancelled"]


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    kind: str  # init_config, apply_commit, spawn, schedule_prompt
    agent: str
    requested_by: str
    commit_ref: str | None
    fetched_sha: str | None
    description: str
    payload: dict[str, Any]
    status: ApprovalStatus
    requested_at: float
    resolved_at: float | None = None
    note: str | None = None
    done_at: float | None = None
    node: str | None = None  # the node that carries out the approved work (the agent's); None: any node


ScheduleStatus = Literal["awaiting_approval", "active", "paused", "cancelled", "done"]


@dataclass(frozen=True)
class ScheduleRecord:
    id: int
    targets: list[str]
    body: str
    description: str
    first_fire_at: float
    next_fire_at: float | None
    interval_seconds: float | None
    status: ScheduleStatus
    created_by: str
    approval_id: int | None
    created_at: float
    last_fired_at: float | None = None
    fire_count: int = 0


@dataclass(frozen=True)
class TurnStatsRecord:
    """One agent turn as the turn_stats table keeps it (90 days)."""

    agent: str
    started_at: float
    ended_at: float
    model: str = ""
    wake_from: str | None = None
    result_kind: str = ""
    ok: bool = True
    duration_ms: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    context_tokens: int | None = None  # the last prompt's size (what the context holds now)
    context_window: int | None = None  # the model's window, when the harness knows it
    cost_usd: float = 0.0
    tool_calls: int = 0
    tool_breakdown: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PruneResult:
    messages: int
    events: int
    turn_stats: int
