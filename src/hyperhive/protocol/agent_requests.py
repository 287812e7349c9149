"""Requests on an agent's mcp.sock. The socket is the identity: no request names its sender."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError, model_validator

from . import replies as rp
from .fields import (
    AgentName,
    Body,
    Delay,
    Face,
    Id,
    ModelName,
    NewSchedule,
    R,
    Recipient,
    Recipients,
    Request,
    Seconds,
    SessionId,
    When,
    request_parser,
    verbs_of,
)

PID_MAX = 2**22  # the kernel's pid_max ceiling (PID_MAX_LIMIT)

MAX_RECV_WAIT_SECONDS = 180
MAX_RECV_BATCH = 32
MAX_SEND_BATCH = 1000


class AgentRequest(Request[R], Generic[R]):
    """A request on an agent's socket (the fields every request has: fields.Request). An agent's verbs: each
    is one of its MCP tools unless it says otherwise."""

    faces: ClassVar[frozenset[Face]] = frozenset({"mcp"})


class Hello(AgentRequest[rp.Identity]):
    """Announces what is connecting (the turn loop, an MCP tool server, a peer's serve loop)."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["hello"]
    role: Literal["harness", "mcp", "serve", "cli"]
    pid: Annotated[int, Field(ge=1, le=PID_MAX)] | None = None


class Whoami(AgentRequest[rp.Identity]):
    faces: ClassVar[frozenset[Face]] = frozenset({"harness", "mcp"})
    cmd: Literal["whoami"]


class Heartbeat(AgentRequest[rp.Done]):
    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["heartbeat"]


class Send(AgentRequest[rp.Sent]):
    cmd: Literal["send"]
    to: Recipient
    body: Body
    in_reply_to: Id | None = None


class Outgoing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    to: Recipient
    body: Body
    in_reply_to: Id | None = None


class SendBatch(AgentRequest[rp.SentBatch]):
    """Many sends in one request and one transaction: all are stored, or none (the first bad one says why)."""

    faces: ClassVar[frozenset[Face]] = frozenset({"script"})
    cmd: Literal["send_batch"]
    messages: list[Outgoing] = Field(min_length=1, max_length=MAX_SEND_BATCH)


class Recv(AgentRequest[rp.Received]):
    """Up to `max` messages; blocks up to `wait_seconds` when none is pending and wakes on arrival.

    Messages stay unacked until `ack` (or `ack: true` here); a connection that closes with unacked
    messages hands them back to the inbox, so a crash mid-turn redelivers them."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness", "mcp"})
    cmd: Literal["recv"]
    wait_seconds: float = Field(default=0, ge=0, le=MAX_RECV_WAIT_SECONDS)
    max: int = Field(default=MAX_RECV_BATCH, ge=1, le=MAX_RECV_BATCH)
    ack: bool = False


class Ack(AgentRequest[rp.Acked]):
    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["ack"]
    ids: list[Id] = Field(min_length=1, max_length=1000)


class InboxStatus(AgentRequest[rp.InboxCounts]):
    faces: ClassVar[frozenset[Face]] = frozenset({"script"})
    cmd: Literal["inbox_status"]


class SetStatus(AgentRequest[rp.StatusText]):
    cmd: Literal["set_status"]
    text: str | None = Field(default=None, max_length=500)


class RequestNextTurn(AgentRequest[rp.Queued]):
    """Queue a message from `self` so the agent gets another turn after this one."""

    cmd: Literal["request_next_turn"]
    note: str | None = Field(default=None, max_length=2000)


class GetLogs(AgentRequest[rp.LogLines]):
    cmd: Literal["get_logs"]
    lines: int = Field(default=50, ge=1, le=2000)


# --- report: the harness's transcript events -------------------------------------------------------
# Every field is typed and bounded: a report is the agent's own text, and parts of it (a parked turn) reach
# hm1nd and the operator. The harness cuts strings at 16 KiB (agent/reporter.py); fields a newer harness
# adds are kept, within the event's size limit.
REPORT_TEXT_MAX = 20_000
REPORT_EVENT_MAX_BYTES = 256 * 1024
ReportText = Annotated[str, Field(max_length=REPORT_TEXT_MAX)]
ShortText = Annotated[str, Field(max_length=200)]
MessageId = Annotated[int, Field(ge=0, le=2**63 - 1)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
TurnOutcomeKind = Literal["ok", "error", "interrupted", "rate_limited", "auth_failed", "prompt_too_long",
                          "crashed", "timeout"]


class ReportPayload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _bounded(self) -> ReportPayload:
        size = len(json.dumps(self.model_dump(mode="json", by_alias=True), ensure_ascii=False).encode())
        if size > REPORT_EVENT_MAX_BYTES:
            raise ValueError(f"the event is {size} bytes; the limit is {REPORT_EVENT_MAX_BYTES}")
        return self


class TurnStartPayload(ReportPayload):
    id: MessageId | None = None
    from_: ShortText | None = Field(default=None, alias="from")
    body: ReportText = ""
    unread: Count | None = None
    model: ShortText | None = None


class TurnEndPayload(ReportPayload):
    id: MessageId | None = None
    ok: StrictBool = False
    kind: TurnOutcomeKind | None = None
    note: ReportText = ""
    parked: StrictBool = False
    from_: ShortText | None = Field(default=None, alias="from")


class NotePayload(ReportPayload):
    text: ReportText


class TurnUsage(ReportPayload):
    """What one turn cost and called: the harness's `TurnStats` (agent/turn_stats.py) and, with the wake,
    the `turn_stats` payload. Field order is the payload's key order."""

    model: ShortText = ""
    duration_ms: Count = 0  # the CLI's own measure (from its start to its result)
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cost_usd: float = Field(default=0.0, ge=0)
    num_turns: Count = 0
    tool_calls: Count = 0
    tool_breakdown: dict[ShortText, Count] = Field(default={}, max_length=500)
    result_kind: ShortText = ""  # the result line's subtype ("success", "error_during_execution"…)
    terminal_reason: ShortText = ""  # the CLI's reason to stop ("completed", "api_error", "aborted_tools"…)
    permission_denials: list[ShortText] = Field(default=[], max_length=500)  # tools called without a rule
    wall_ms: Count = 0  # from spawning the CLI to its exit, as the harness saw it


class TurnStatsPayload(TurnUsage):
    message_id: MessageId | None = None
    wake_from: ShortText | None = None
    started_at: float | None = None


class OpenPayload(ReportPayload):
    """A line of the CLI's stream-json, or the harness's own record: free-form, bounded in size."""


_PAYLOADS: dict[str, type[ReportPayload]] = {
    "turn_start": TurnStartPayload, "turn_end": TurnEndPayload, "note": NotePayload,
    "turn_stats": TurnStatsPayload, "stream": OpenPayload, "harness": OpenPayload,
}


class ReportedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["turn_start", "stream", "note", "turn_end", "turn_stats", "harness"]
    payload: dict[str, object] = {}

    @model_validator(mode="after")
    def _payload_fits_its_kind(self) -> ReportedEvent:
        self.typed()
        return self

    def typed(self) -> ReportPayload:
        """The payload checked against its kind's model (raises ValueError saying which field is wrong)."""
        try:
            return _PAYLOADS[self.kind].model_validate(self.payload)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{self.kind} payload{' field ' + repr(where) if where else ''}: {err['msg']}") from None


class Report(AgentRequest[rp.Seqs]):
    """The harness's live transcript: stored per agent (bounded) and pushed to watchers."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["report"]
    events: list[ReportedEvent] = Field(min_length=1, max_length=500)


HarnessActivity = Literal["starting", "idle", "thinking", "rate_limited", "needs_login", "paused", "stopping",
                          "budget_exhausted"]


class HarnessState(AgentRequest[rp.Done]):
    """What the turn loop is doing; shown on the status row."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["harness_state"]
    activity: HarnessActivity
    model: ModelName | None = None
    session_id: SessionId | None = None
    detail: str | None = Field(default=None, max_length=500)
    needs_login: bool | None = None


class ControlStream(AgentRequest[rp.Control]):
    """Turn this connection into a stream of operator controls for the harness: one bare ok line, then
    one line per control (`{"control": "interrupt"}`, `{"control": "set_model", "model": "…"}`, …)."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["control_stream"]


class Ask(AgentRequest[rp.QuestionReply]):
    """Ask the operator (default) or another agent; the answer arrives as a `question_answered` event."""

    cmd: Literal["ask"]
    question: Body
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default=[], max_length=20)
    multi: bool = False
    ttl_seconds: Seconds | None = None
    to: AgentName | Literal["operator"] | None = None


class Answer(AgentRequest[rp.QuestionReply]):
    cmd: Literal["answer"]
    id: Id
    answer: Body


class Remind(AgentRequest[rp.ReminderReply]):
    """Mail to yourself later: `delay_seconds` from now, or `at` (RFC 3339 or Unix seconds)."""

    cmd: Literal["remind"]
    message: Body
    delay_seconds: Delay | None = None
    at: When | None = None

    @model_validator(mode="after")
    def _one_time(self) -> Remind:
        if (self.delay_seconds is None) == (self.at is None):
            raise ValueError("give exactly one of delay_seconds and at")
        return self


LooseEndKind = Literal["question", "reminder", "approval", "schedule"]


class GetLooseEnds(AgentRequest[rp.LooseEndsReply]):
    cmd: Literal["get_loose_ends"]


class CancelLooseEnd(AgentRequest[rp.LooseEndCancelled]):
    cmd: Literal["cancel_loose_end"]
    kind: LooseEndKind
    id: Id


class RequestSchedulePrompt(NewSchedule, AgentRequest[rp.ScheduleRequested]):
    """Ask the operator to approve a prompt sent to `targets` at `first_fire_at`, then every
    `interval_seconds` if given."""

    cmd: Literal["request_schedule_prompt"]


class ListSchedules(AgentRequest[rp.Schedules]):
    cmd: Literal["list_schedules"]


class CancelSchedule(AgentRequest[rp.ScheduleReply]):
    cmd: Literal["cancel_schedule"]
    id: Id
    targets: Recipients | None = None


class FireScheduleNow(AgentRequest[rp.ScheduleReply]):
    cmd: Literal["fire_schedule_now"]
    id: Id


class WatchInbox(AgentRequest[rp.InboxNews]):
    """A stream that tells of new mail without taking it: one `ok` line with `unread`, then one line per
    arrival with `unread` and `newest` (id, sender, a preview). For a peer's notification hook."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["watch_inbox"]


# --- the manager's verbs (manager.sock only) --------------------------------------------------------
class ManagerRequest(AgentRequest[R], Generic[R]):
    """A verb only hm1nd's manager.sock takes (another agent's socket answers it `not_allowed`)."""


class RequestInitConfig(ManagerRequest[rp.ApprovalReply]):
    """Ask the operator to create a new agent's config repo (seeded from the template)."""

    cmd: Literal["request_init_config"]
    name: AgentName
    description: str = Field(default="", max_length=500)


class RequestApplyCommit(ManagerRequest[rp.ApprovalReply]):
    """Ask the operator to deploy exactly this commit (7-40 hex digits) of the agent's proposed repo."""

    cmd: Literal["request_apply_commit"]
    agent: AgentName
    commit_ref: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)


class RequestSpawn(ManagerRequest[rp.ApprovalReply]):
    """Ask the operator for a new agent straight from the template, started once approved."""

    cmd: Literal["request_spawn"]
    name: AgentName
    description: str = Field(default="", max_length=500)


class ManageAgent(ManagerRequest[rp.AgentStatuses]):
    """start / stop / restart / update (restart on the deployed config) another agent; no approval."""

    cmd: Literal["manage_agent"]
    name: AgentName
    action: Literal["start", "stop", "restart", "update"]


class ListAgentStatus(ManagerRequest[rp.AgentStatuses]):
    cmd: Literal["list_agents"]


class PendingApprovals(ManagerRequest[rp.Approvals]):
    cmd: Literal["pending_approvals"]
    all: bool = False


class Rollback(ManagerRequest[rp.ApprovalReply]):
    """Commit the revert of the agent's last deploy in its proposed repo and ask to apply it."""

    cmd: Literal["rollback"]
    agent: AgentName


class ToolPrompt(AgentRequest[rp.PermissionDecision]):
    """The CLI's permission prompt for one tool call (the `permission_prompt` tool): answered when the operator
    has decided, `{behavior: allow, updatedInput}` or `{behavior: deny, message}`. Asking again with the same
    tool_use_id waits on the same approval (a prompt that reconnected after a daemon restart)."""

    faces: ClassVar[frozenset[Face]] = frozenset({"harness"})
    cmd: Literal["tool_prompt"]
    tool: str = Field(min_length=1, max_length=200)
    input: dict[str, object]
    tool_use_id: str = Field(min_length=1, max_length=200)
    ask: list[Annotated[str, Field(max_length=500)]] = Field(default=[], max_length=200)
    """The ask rules the agent's turn runs under; the hive prefers the agent's deployed config when it has one."""
    timeout_seconds: float | None = Field(default=None, ge=1, le=86400)


MANAGER_ONLY = frozenset(verb.verb_name() for verb in verbs_of(ManagerRequest))


# Every verb declared above, tagged by `cmd`: a new request class is a new verb, nothing to list.
AGENT_REQUEST: TypeAdapter[AgentRequest[Any]] = request_parser(AgentRequest)
