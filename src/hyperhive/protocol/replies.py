"""What the verbs answer: one model per reply, its fields the keys beside `ok` (and `req_id`) on the wire.

The daemon builds them, `ok_response` writes `model_dump(mode="json")` (field order is the wire's key order),
and clients (hivectl, the MCP tools, the web) read a line back with `model_validate`, which ignores the
envelope's own keys. Records several replies share (an approval, a question, …) come first."""

from __future__ import annotations

from typing import Any, Generic, Literal

from pydantic import BaseModel, ConfigDict

from .models import AgentKind, Event, Message, StatusRow, TimeT, Urls, WireModel


class Reply(BaseModel):
    """A verb's answer. Reading one ignores unknown keys: the envelope's `version`, `ok` and `req_id`."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # built on first use

    def wire(self) -> dict[str, Any]:
        """The keys this reply puts on its line, in order."""
        return self.model_dump(mode="json")


# --- records shared by several replies -----------------------------------------------------------
class Approval(WireModel):
    id: int
    kind: str  # init_config, apply_commit, spawn, schedule_prompt, tool_use, …
    agent: str
    requested_by: str
    commit_ref: str | None
    fetched_sha: str | None
    description: str
    status: str  # pending, approved, denied, failed, cancelled
    requested_at: str | None
    resolved_at: str | None
    note: str | None
    done: bool
    diff: str | None
    details: dict[str, Any]  # the kind's own payload (a tool_use's input, an image build's state, …)


QuestionStatus = Literal["open", "answered", "expired", "cancelled"]


class Question(WireModel):
    """A question as the store keeps it (store.QuestionRecord) and the wire carries it: its times are Unix
    seconds on both, as the original's."""

    id: int
    asker: str
    target: str  # "operator" or an agent's name
    question: str
    options: list[str]
    multi: bool
    asked_at: float
    expires_at: float | None
    status: QuestionStatus = "open"
    answer: str | None = None
    answered_by: str | None = None
    answered_at: float | None = None


class ReminderBase(WireModel, Generic[TimeT]):
    """A reminder, whichever way its times are written: RFC 3339 on the wire (`Reminder`), Unix seconds in the
    store (`store.ReminderRecord`, which also keeps how it ended)."""

    id: int
    agent: str
    body: str
    due_at: TimeT
    created_at: TimeT


class Reminder(ReminderBase[str | None]):
    """A reminder as the wire carries it."""


class Schedule(WireModel):
    id: int
    targets: list[str]
    body: str
    description: str
    first_fire_at: str | None
    next_fire_at: str | None
    interval_seconds: float | None
    status: str  # awaiting_approval, active, paused, cancelled, done
    created_by: str
    approval_id: int | None
    last_fired_at: str | None
    fire_count: int


class LooseEnds(WireModel):
    questions: list[Question]
    reminders: list[Reminder]
    approvals: list[Approval]
    schedules: list[Schedule]


class Image(WireModel):
    id: str
    kind: str  # base, packages
    packages: list[str]
    own_mb: float
    built_at: str | None
    users: list[str]


class UsageTotal(WireModel):
    """Sums over a group of metered calls (`key`: the agent, the model or the UTC day, by grouping), as the
    store totals them (store.usage) and the wire carries them."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    tokens: int  # the four kinds together
    cost_usd: float

    @classmethod
    def of(cls, key: str, calls: int, input_tokens: int, output_tokens: int, cache_read_tokens: int,
           cache_write_tokens: int, cost_usd: float) -> UsageTotal:
        """The total of these sums, its `tokens` added up from them."""
        tokens = input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
        return cls(key=key, calls=calls, input_tokens=input_tokens, output_tokens=output_tokens,
                   cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens, tokens=tokens,
                   cost_usd=cost_usd)


class Prices(WireModel):
    source: str
    retrieved: str


class Newest(WireModel):
    """The newest unread message as `watch_inbox` tells of it: no more than a preview."""

    id: int
    sender: str
    preview: str


# --- replies ---------------------------------------------------------------------------------------
class Done(Reply):
    """A verb that answers nothing but `ok`."""


class Pong(Reply):
    pong: bool
    daemon_version: str


class Identity(Reply):
    name: str
    kind: AgentKind
    manager: bool
    active_model: str | None
    paused: bool


class Sent(Reply):
    id: int  # the first stored message (a broadcast stores one per recipient)
    ids: list[int]
    recipients: list[str]


class SentBatch(Reply):
    results: list[Sent]


class Received(Reply):
    messages: list[Message]
    pending: int


class Acked(Reply):
    acked: list[int]


class InboxCounts(Reply):
    pending: int
    unread: int


class StatusText(Reply):
    status_text: str | None


class Queued(Reply):
    id: int


class LogLines(Reply):
    lines: list[str]


class AgentLog(Reply):
    lines: list[str]
    path: str  # the file on the hive's host, for `hivectl logs -f`


class Seqs(Reply):
    seqs: list[int]


class QuestionReply(Reply):
    question: Question


class ReminderReply(Reply):
    reminder: Reminder


class ApprovalReply(Reply):
    approval: Approval


class ScheduleReply(Reply):
    schedule: Schedule


class Sparse(Reply):
    """A reply whose keys that are None stay off the line (they are absent on the wire, not null)."""

    def wire(self) -> dict[str, Any]:
        return {key: value for key, value in self.model_dump(mode="json").items() if value is not None}


class LooseEndCancelled(Sparse):
    """`cancel_loose_end`: the one cancelled item under its kind's key (the others absent)."""

    question: Question | None = None
    reminder: Reminder | None = None
    approval: Approval | None = None
    schedule: Schedule | None = None


class ScheduleRequested(Reply):
    schedule: Schedule
    approval: Approval


class Schedules(Reply):
    schedules: list[Schedule]


class LooseEndsReply(Reply):
    loose_ends: LooseEnds


class Approvals(Reply):
    approvals: list[Approval]


class AgentStatuses(Reply):
    agent_statuses: list[StatusRow]


class AgentNames(Reply):
    agents: list[str]


class UrlsReply(Reply):
    urls: Urls


class Inbox(Reply):
    messages: list[Message]
    unread: int


class Messages(Reply):
    messages: list[Message]


class PeerRegistered(Reply):
    agent_statuses: list[StatusRow]
    socket_dir: str
    bind_mount: str  # `<socket_dir>:/run/hive`, for the peer's container


class Events(Reply):
    events: list[Event]


class Questions(Reply):
    questions: list[Question]


class Reminders(Reply):
    reminders: list[Reminder]


class Images(Reply):
    images: list[Image]
    image_dir: str


class DashboardUrl(Reply):
    url: str


class SandboxEntry(Reply):
    argv: list[str]
    env: dict[str, str]
    cwd: str
    pid: int


class Usage(Reply):
    usage: list[UsageTotal]
    total: UsageTotal
    by: str
    since: str | None
    prices: Prices


class Paused(Reply):
    paused_agents: list[str]
    paused_schedules: list[int]
    event_seq: int


class Resumed(Reply):
    resumed_agents: list[str]
    resumed_schedules: list[int]
    event_seq: int


# --- the lines of streams --------------------------------------------------------------------------
class StatusChange(Sparse):
    """A line of `subscribe_agent_status`: a changed row, or the name of a removed agent."""

    agent_statuses: list[StatusRow]
    removed: list[str] | None = None


class Control(Sparse):
    """A line of `control_stream`: one operator control for the harness."""

    control: str  # interrupt, set_model, new_session, compact, logged_in, budget_restored
    model: str | None = None


class InboxNews(Reply):
    """A line of `watch_inbox`."""

    unread: int
    newest: Newest | None


class PermissionDecision(Sparse):
    """`tool_prompt`'s answer, as the CLI's permission prompt tool wants it."""

    behavior: str  # allow, deny
    updatedInput: dict[str, object] | None = None  # the CLI's spelling
    message: str | None = None
