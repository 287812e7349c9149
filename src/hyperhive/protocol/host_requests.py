"""Requests on host.sock (the operator's socket). One model per verb, tagged by `cmd`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from .fields import (
    MAX_NAMES,
    AgentName,
    Body,
    Cursor,
    Id,
    Label,
    ModelName,
    Recipient,
    Recipients,
    Request,
    Scope,
    Seconds,
    When,
)


class HostRequest(Request):
    """A request on host.sock (the fields every request has: fields.Request)."""


class Ping(HostRequest):
    cmd: Literal["ping"]


class ListAgents(HostRequest):
    cmd: Literal["list"]


class AgentStatus(HostRequest):
    cmd: Literal["agent_status"]
    names: list[AgentName] | None = Field(default=None, max_length=MAX_NAMES)


class SubscribeAgentStatus(HostRequest):
    cmd: Literal["subscribe_agent_status"]


class GetUrls(HostRequest):
    cmd: Literal["urls"]


class SetPaused(HostRequest):
    cmd: Literal["set_paused"]
    name: AgentName
    paused: bool


class OperatorSend(HostRequest):
    """Send as the operator."""

    cmd: Literal["send"]
    to: Recipient
    body: Body
    in_reply_to: Id | None = None


class OperatorInbox(HostRequest):
    cmd: Literal["inbox"]
    limit: int = Field(default=50, ge=1, le=1000)
    unread_only: bool = False


class OperatorAck(HostRequest):
    cmd: Literal["ack"]
    ids: list[Id] = Field(min_length=1, max_length=1000)


class RecentMessages(HostRequest):
    cmd: Literal["recent"]
    limit: int = Field(default=50, ge=1, le=1000)
    before_id: Id | None = None


class RegisterPeer(HostRequest):
    cmd: Literal["register_peer"]
    name: AgentName
    description: str = Field(default="", max_length=2000)


class UnregisterPeer(HostRequest):
    cmd: Literal["unregister_peer"]
    name: AgentName


class Events(HostRequest):
    """Stored events (transcripts, crashes, approvals) after a sequence number, oldest first."""

    cmd: Literal["events"]
    after_seq: Cursor = 0
    agent: AgentName | None = None
    kinds: list[Label] | None = Field(default=None, max_length=100)
    limit: int = Field(default=200, ge=1, le=5000)


class Interrupt(HostRequest):
    """End the agent's running turn cleanly; the message it was working on is kept."""

    cmd: Literal["interrupt"]
    name: AgentName


class SetModel(HostRequest):
    cmd: Literal["set_model"]
    name: AgentName
    model: ModelName


class NewSession(HostRequest):
    """Start the agent's next turn in a fresh Claude session (the old one stays on disk)."""

    cmd: Literal["new_session"]
    name: AgentName


class Compact(HostRequest):
    """Compact the agent's session before its next turn."""

    cmd: Literal["compact"]
    name: AgentName


class LoggedIn(HostRequest):
    """The agent's Claude CLI has credentials again: its harness retries the waiting message now."""

    cmd: Literal["logged_in"]
    name: AgentName


class ListQuestions(HostRequest):
    cmd: Literal["questions"]
    status: Literal["open", "answered", "expired", "cancelled"] | None = "open"
    limit: int = Field(default=100, ge=1, le=1000)


class AnswerQuestion(HostRequest):
    """The operator answers a question addressed to the operator."""

    cmd: Literal["answer"]
    id: Id
    answer: Body


class CancelQuestion(HostRequest):
    cmd: Literal["cancel_question"]
    id: Id


class ListReminders(HostRequest):
    cmd: Literal["reminders"]
    agent: AgentName | None = None


class CancelReminder(HostRequest):
    cmd: Literal["cancel_reminder"]
    id: Id


class LooseEnds(HostRequest):
    """Everything open across the hive: questions, reminders (and approvals, schedules)."""

    cmd: Literal["loose_ends"]
    agent: AgentName | None = None


ApprovalStatusName = Literal["pending", "approved", "denied", "failed", "cancelled"]


class Pending(HostRequest):
    """Approvals of every status, newest first (hyperhive v1 `pending`); filter by status, kind, agent."""

    cmd: Literal["pending"]
    status: ApprovalStatusName | None = None
    kind: Label | None = None
    agent: AgentName | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class ShowApproval(HostRequest):
    cmd: Literal["show_approval"]
    id: Id


class Approve(HostRequest):
    cmd: Literal["approve"]
    id: Id


class Deny(HostRequest):
    cmd: Literal["deny"]
    id: Id
    note: str | None = Field(default=None, max_length=4000)


class ListSchedules(HostRequest):
    cmd: Literal["schedules"]
    all: bool = False


class CreateSchedule(HostRequest):
    cmd: Literal["create_schedule"]
    targets: Recipients
    body: Body
    first_fire_at: When
    interval_seconds: Seconds | None = None
    description: str = Field(default="", max_length=500)


class UpdateSchedule(HostRequest):
    cmd: Literal["update_schedule"]
    id: Id
    targets: Recipients | None = None
    body: Body | None = None
    next_fire_at: When | None = None
    interval_seconds: Seconds | None = None
    description: str | None = Field(default=None, max_length=500)


class SetSchedulePaused(HostRequest):
    cmd: Literal["set_schedule_paused"]
    id: Id
    paused: bool


class CancelSchedule(HostRequest):
    cmd: Literal["cancel_schedule"]
    id: Id
    targets: Recipients | None = None


class FireSchedule(HostRequest):
    cmd: Literal["fire_schedule"]
    id: Id


class Scoped(HostRequest):
    """A lifecycle verb's scope: `name` (hyperhive v1), `agent_names`, `all: true`, or the original's
    `scope` object (`{"agent_names": [...]}` or `{"agents": true}`). Empty is an error, never "everything"."""

    name: AgentName | None = None
    agent_names: list[AgentName] = Field(default=[], max_length=MAX_NAMES)
    all: bool = False
    scope: Scope | None = None

    @model_validator(mode="after")
    def _explicit(self) -> Scoped:
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


class Start(Scoped):
    cmd: Literal["start"]


class Stop(Scoped):
    """Graceful: the running turn may finish, within the agent's stop timeout. `graceful: false` (the
    original's hard stop) is a kill."""

    cmd: Literal["stop"]
    graceful: bool = True


class Restart(Scoped):
    cmd: Literal["restart"]


class Kill(Scoped):
    cmd: Literal["kill"]


class Rebuild(Scoped):
    """Restart on the deployed config, read afresh."""

    cmd: Literal["rebuild"]
    refresh: bool = False
    """Also rebuild the images from the mirror's current packages (security updates) first."""


class Images(HostRequest):
    """Agent images with their size, age and users."""

    cmd: Literal["images"]


class Destroy(Scoped):
    """Stop and remove the sandbox; state, config and credentials stay as a tombstone unless `purge`."""

    cmd: Literal["destroy"]
    purge: bool = False


class Revive(HostRequest):
    cmd: Literal["revive"]
    name: AgentName


class Spawn(HostRequest):
    """The operator creates and starts an agent at once (the template, or `config`: agent.toml text)."""

    cmd: Literal["spawn"]
    name: AgentName
    description: str = Field(default="", max_length=500)
    config: str | None = Field(default=None, max_length=64 * 1024)
    # added to its allowed_recipients (agent names, `operator`, `manager`, `*`: agent.toml's rules check them)
    allow: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=100)


class RequestSpawn(HostRequest):
    """The operator queues a new agent from the template as a pending `spawn` approval (hyperhive v1
    `hive-c0re request-spawn`); approved, it is seeded, deployed and started."""

    cmd: Literal["request_spawn"]
    name: AgentName
    description: str = Field(default="", max_length=500)


class RollbackConfig(HostRequest):
    """Propose the revert of the agent's last deploy as an approval."""

    cmd: Literal["rollback"]
    name: AgentName


class AgentLogs(HostRequest):
    """The tail of an agent's harness log."""

    cmd: Literal["logs"]
    name: AgentName
    lines: int = Field(default=50, ge=0, le=10_000)


class DashboardUrl(HostRequest):
    """The dashboard's login URL, token included (host.sock is the operator's, so it may know it)."""

    cmd: Literal["dashboard_url"]


class SetParent(HostRequest):
    """Hang an agent under another in the swarm tree (`parent` null or left out: at the top)."""

    cmd: Literal["set_parent"]
    name: AgentName
    parent: AgentName | None = None


class SandboxShell(HostRequest):
    """How to run `command` (a login shell when empty; `claude` is the hive's CLI) inside a running
    agent's sandbox: hivectl execs the answer in its own terminal (`hivectl shell`, `hivectl login`).
    `host_network`: keep the host's network (a login's token exchange needs it)."""

    cmd: Literal["sandbox_shell"]
    name: AgentName
    command: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(default=[], max_length=256)
    host_network: bool = False


class PauseAll(HostRequest):
    """The kill switch: pause every agent and disarm every active schedule, as one event."""

    cmd: Literal["pause_all"]


class ResumeAll(HostRequest):
    """Undo exactly the last `pause_all`: the agents and schedules it paused, nothing else."""

    cmd: Literal["resume_all"]


class UsageReport(HostRequest):
    """Metered API calls summed by agent, model or UTC day since a moment (the gateway's meter)."""

    cmd: Literal["usage"]
    name: AgentName | None = None
    since_seconds: float = Field(default=7 * 86400, gt=0, le=400 * 86400)
    by: Literal["agent", "model", "day"] = "agent"


class ApproveAlways(HostRequest):
    """Approve a pending `tool_use` approval and propose its ask rule as an `allow` rule from now on (a commit
    in the agent's config repo and its `apply_commit` approval)."""

    cmd: Literal["approve_always"]
    id: Id


AnyHostRequest = Annotated[
    Ping
    | ListAgents
    | AgentStatus
    | SubscribeAgentStatus
    | GetUrls
    | SetPaused
    | OperatorSend
    | OperatorInbox
    | OperatorAck
    | RecentMessages
    | RegisterPeer
    | UnregisterPeer
    | Events
    | Interrupt
    | SetModel
    | NewSession
    | Compact
    | LoggedIn
    | ListQuestions
    | AnswerQuestion
    | CancelQuestion
    | ListReminders
    | CancelReminder
    | LooseEnds
    | Pending
    | ShowApproval
    | Approve
    | Deny
    | ListSchedules
    | CreateSchedule
    | UpdateSchedule
    | SetSchedulePaused
    | CancelSchedule
    | FireSchedule
    | Start
    | Stop
    | Restart
    | Kill
    | Rebuild
    | Images
    | Destroy
    | Revive
    | Spawn
    | RequestSpawn
    | DashboardUrl
    | UsageReport
    | PauseAll
    | ResumeAll
    | RollbackConfig
    | AgentLogs
    | SetParent
    | SandboxShell
    | ApproveAlways,
    Field(discriminator="cmd"),
]
HOST_REQUEST: TypeAdapter[AnyHostRequest] = TypeAdapter(AnyHostRequest)
