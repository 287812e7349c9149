"""Requests on host.sock (the operator's socket). One model per verb, tagged by `cmd`."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, Literal

from pydantic import Field, TypeAdapter, model_validator

from . import replies as rp
from .fields import (
    MAX_NAMES,
    AgentName,
    Body,
    Cursor,
    Face,
    Id,
    Label,
    ModelName,
    NewSchedule,
    R,
    Recipient,
    Recipients,
    Request,
    Scope,
    Seconds,
    When,
    request_parser,
)


class HostRequest(Request[R], Generic[R]):
    """A request on host.sock (the fields every request has: fields.Request). The operator's verbs: each
    has a hivectl command unless it says otherwise."""

    faces: ClassVar[frozenset[Face]] = frozenset({"cli"})


class Ping(HostRequest[rp.Pong]):
    cmd: Literal["ping"]


class ListAgents(HostRequest[rp.AgentNames]):
    cmd: Literal["list"]


class AgentStatus(HostRequest[rp.AgentStatuses]):
    cmd: Literal["agent_status"]
    names: list[AgentName] | None = Field(default=None, max_length=MAX_NAMES)


class SubscribeAgentStatus(HostRequest[rp.StatusChange]):
    cmd: Literal["subscribe_agent_status"]


class GetUrls(HostRequest[rp.UrlsReply]):
    cmd: Literal["urls"]


class SetPaused(HostRequest[rp.AgentStatuses]):
    cmd: Literal["set_paused"]
    name: AgentName
    paused: bool


class OperatorSend(HostRequest[rp.Sent]):
    """Send as the operator."""

    cmd: Literal["send"]
    to: Recipient
    body: Body
    in_reply_to: Id | None = None


class OperatorInbox(HostRequest[rp.Inbox]):
    cmd: Literal["inbox"]
    limit: int = Field(default=50, ge=1, le=1000)
    unread_only: bool = False


class OperatorAck(HostRequest[rp.Acked]):
    cmd: Literal["ack"]
    ids: list[Id] = Field(min_length=1, max_length=1000)


class RecentMessages(HostRequest[rp.Messages]):
    cmd: Literal["recent"]
    limit: int = Field(default=50, ge=1, le=1000)
    before_id: Id | None = None


class RegisterPeer(HostRequest[rp.PeerRegistered]):
    cmd: Literal["register_peer"]
    name: AgentName
    description: str = Field(default="", max_length=2000)


class UnregisterPeer(HostRequest[rp.AgentNames]):
    cmd: Literal["unregister_peer"]
    name: AgentName


class Events(HostRequest[rp.Events]):
    """Stored events (transcripts, crashes, approvals) after a sequence number, oldest first."""

    cmd: Literal["events"]
    after_seq: Cursor = 0
    agent: AgentName | None = None
    kinds: list[Label] | None = Field(default=None, max_length=100)
    limit: int = Field(default=200, ge=1, le=5000)


class Interrupt(HostRequest[rp.Done]):
    """End the agent's running turn cleanly; the message it was working on is kept."""

    cmd: Literal["interrupt"]
    name: AgentName


class SetModel(HostRequest[rp.AgentStatuses]):
    cmd: Literal["set_model"]
    name: AgentName
    model: ModelName


class NewSession(HostRequest[rp.Done]):
    """Start the agent's next turn in a fresh Claude session (the old one stays on disk)."""

    cmd: Literal["new_session"]
    name: AgentName


class Compact(HostRequest[rp.Done]):
    """Compact the agent's session before its next turn."""

    cmd: Literal["compact"]
    name: AgentName


class LoggedIn(HostRequest[rp.AgentStatuses]):
    """The agent's Claude CLI has credentials again: its harness retries the waiting message now."""

    cmd: Literal["logged_in"]
    name: AgentName


class ListQuestions(HostRequest[rp.Questions]):
    cmd: Literal["questions"]
    status: Literal["open", "answered", "expired", "cancelled"] | None = "open"
    limit: int = Field(default=100, ge=1, le=1000)


class AnswerQuestion(HostRequest[rp.QuestionReply]):
    """The operator answers a question addressed to the operator."""

    cmd: Literal["answer"]
    id: Id
    answer: Body


class CancelQuestion(HostRequest[rp.QuestionReply]):
    cmd: Literal["cancel_question"]
    id: Id


class ListReminders(HostRequest[rp.Reminders]):
    cmd: Literal["reminders"]
    agent: AgentName | None = None


class CancelReminder(HostRequest[rp.ReminderReply]):
    cmd: Literal["cancel_reminder"]
    id: Id


class LooseEnds(HostRequest[rp.LooseEndsReply]):
    """Everything open across the hive: questions, reminders (and approvals, schedules)."""

    faces: ClassVar[frozenset[Face]] = frozenset({"cli", "dashboard"})
    cmd: Literal["loose_ends"]
    agent: AgentName | None = None


ApprovalStatusName = Literal["pending", "approved", "denied", "failed", "cancelled"]


class Pending(HostRequest[rp.Approvals]):
    """Approvals of every status, newest first (hyperhive v1 `pending`); filter by status, kind, agent."""

    cmd: Literal["pending"]
    status: ApprovalStatusName | None = None
    kind: Label | None = None
    agent: AgentName | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class ShowApproval(HostRequest[rp.Approvals]):
    cmd: Literal["show_approval"]
    id: Id


class Approve(HostRequest[rp.Approvals]):
    cmd: Literal["approve"]
    id: Id


class Deny(HostRequest[rp.Approvals]):
    cmd: Literal["deny"]
    id: Id
    note: str | None = Field(default=None, max_length=4000)


class ListSchedules(HostRequest[rp.Schedules]):
    cmd: Literal["schedules"]
    all: bool = False


class CreateSchedule(NewSchedule, HostRequest[rp.ScheduleReply]):
    cmd: Literal["create_schedule"]


class UpdateSchedule(HostRequest[rp.ScheduleReply]):
    cmd: Literal["update_schedule"]
    id: Id
    targets: Recipients | None = None
    body: Body | None = None
    next_fire_at: When | None = None
    interval_seconds: Seconds | None = None
    description: str | None = Field(default=None, max_length=500)


class SetSchedulePaused(HostRequest[rp.ScheduleReply]):
    cmd: Literal["set_schedule_paused"]
    id: Id
    paused: bool


class CancelSchedule(HostRequest[rp.ScheduleReply]):
    cmd: Literal["cancel_schedule"]
    id: Id
    targets: Recipients | None = None


class FireSchedule(HostRequest[rp.ScheduleReply]):
    cmd: Literal["fire_schedule"]
    id: Id


class Scoped(HostRequest[R], Generic[R]):
    """A lifecycle verb's scope: `name` (hyperhive v1), `agent_names`, `all: true`, or the original's
    `scope` object (`{"agent_names": [...]}` or `{"agents": true}`). Empty is an error, never "everything"."""

    name: AgentName | None = None
    agent_names: list[AgentName] = Field(default=[], max_length=MAX_NAMES)
    all: bool = False
    scope: Scope | None = None

    @model_validator(mode="after")
    def _explicit(self) -> Scoped[R]:
        every = self.all or (self.scope is not None and self.scope.every)
        if every and self._named():
            raise ValueError("the scope names agents and says all: say one of them")
        if not every and not self._named():
            raise ValueError('the scope is empty: give "name", "agent_names", "scope", or "all": true')
        return self

    def _named(self) -> list[str]:
        scoped = list(self.scope.agent_names) if self.scope is not None else []
        return ([self.name] if self.name else []) + list(self.agent_names) + scoped

    def names(self, every: list[str]) -> list[str]:
        if self.all or (self.scope is not None and self.scope.every):
            return every
        return list(dict.fromkeys(self._named()))


class Start(Scoped[rp.AgentStatuses]):
    cmd: Literal["start"]


class Stop(Scoped[rp.AgentStatuses]):
    """Graceful: the running turn may finish, within the agent's stop timeout. `graceful: false` (the
    original's hard stop) is a kill."""

    cmd: Literal["stop"]
    graceful: bool = True


class Restart(Scoped[rp.AgentStatuses]):
    cmd: Literal["restart"]


class Kill(Scoped[rp.AgentStatuses]):
    cmd: Literal["kill"]


class Rebuild(Scoped[rp.AgentStatuses]):
    """Restart on the deployed config, read afresh."""

    cmd: Literal["rebuild"]
    refresh: bool = False
    """Also rebuild the images from the mirror's current packages (security updates) first."""


class Images(HostRequest[rp.Images]):
    """Agent images with their size, age and users."""

    cmd: Literal["images"]


class Destroy(Scoped[rp.AgentNames]):
    """Stop and remove the sandbox; state, config and credentials stay as a tombstone unless `purge`."""

    cmd: Literal["destroy"]
    purge: bool = False


class Revive(HostRequest[rp.AgentStatuses]):
    cmd: Literal["revive"]
    name: AgentName


class Spawn(HostRequest[rp.AgentStatuses]):
    """The operator creates and starts an agent at once (the template, or `config`: agent.toml text)."""

    cmd: Literal["spawn"]
    name: AgentName
    description: str = Field(default="", max_length=500)
    config: str | None = Field(default=None, max_length=64 * 1024)
    # added to its allowed_recipients (agent names, `operator`, `manager`, `*`: agent.toml's rules check them)
    allow: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=100)


class RequestSpawn(HostRequest[rp.Approvals]):
    """The operator queues a new agent from the template as a pending `spawn` approval (hyperhive v1
    `hive-c0re request-spawn`); approved, it is seeded, deployed and started."""

    cmd: Literal["request_spawn"]
    name: AgentName
    description: str = Field(default="", max_length=500)


class RollbackConfig(HostRequest[rp.Approvals]):
    """Propose the revert of the agent's last deploy as an approval."""

    cmd: Literal["rollback"]
    name: AgentName


class AgentLogs(HostRequest[rp.AgentLog]):
    """The tail of an agent's harness log."""

    cmd: Literal["logs"]
    name: AgentName
    lines: int = Field(default=50, ge=0, le=10_000)


class DashboardUrl(HostRequest[rp.DashboardUrl]):
    """The dashboard's login URL, token included (host.sock is the operator's, so it may know it)."""

    cmd: Literal["dashboard_url"]


class SetParent(HostRequest[rp.AgentStatuses]):
    """Hang an agent under another in the swarm tree (`parent` null or left out: at the top)."""

    cmd: Literal["set_parent"]
    name: AgentName
    parent: AgentName | None = None


class SandboxShell(HostRequest[rp.SandboxEntry]):
    """How to run `command` (a login shell when empty; `claude` is the hive's CLI) inside a running
    agent's sandbox: hivectl execs the answer in its own terminal (`hivectl shell`, `hivectl login`).
    `host_network`: keep the host's network (a login's token exchange needs it)."""

    cmd: Literal["sandbox_shell"]
    name: AgentName
    command: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(default=[], max_length=256)
    host_network: bool = False


class PauseAll(HostRequest[rp.Paused]):
    """The kill switch: pause every agent and disarm every active schedule, as one event."""

    cmd: Literal["pause_all"]


class ResumeAll(HostRequest[rp.Resumed]):
    """Undo exactly the last `pause_all`: the agents and schedules it paused, nothing else."""

    cmd: Literal["resume_all"]


class UsageReport(HostRequest[rp.Usage]):
    """Metered API calls summed by agent, model or UTC day since a moment (the gateway's meter)."""

    cmd: Literal["usage"]
    name: AgentName | None = None
    since_seconds: float = Field(default=7 * 86400, gt=0, le=400 * 86400)
    by: Literal["agent", "model", "day"] = "agent"


class ApproveAlways(HostRequest[rp.Approvals]):
    """Approve a pending `tool_use` approval and propose its ask rule as an `allow` rule from now on (a commit
    in the agent's config repo and its `apply_commit` approval)."""

    cmd: Literal["approve_always"]
    id: Id


# Every verb declared above, tagged by `cmd`: a new request class is a new verb, nothing to list.
HOST_REQUEST: TypeAdapter[HostRequest[Any]] = request_parser(HostRequest)
