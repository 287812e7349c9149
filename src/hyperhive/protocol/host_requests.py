"""Requests on host.sock (the operator's socket). One model per verb, tagged by `cmd`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from .fields import AgentName, Body, ReqId


class HostRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    req_id: ReqId = None
    version: int | None = None


class Ping(HostRequest):
    cmd: Literal["ping"]


class ListAgents(HostRequest):
    cmd: Literal["list"]


class AgentStatus(HostRequest):
    cmd: Literal["agent_status"]
    names: list[AgentName] | None = None


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
    to: str
    body: Body
    in_reply_to: int | None = None


class OperatorInbox(HostRequest):
    cmd: Literal["inbox"]
    limit: int = Field(default=50, ge=1, le=1000)
    unread_only: bool = False


class OperatorAck(HostRequest):
    cmd: Literal["ack"]
    ids: list[int] = Field(min_length=1, max_length=1000)


class RecentMessages(HostRequest):
    cmd: Literal["recent"]
    limit: int = Field(default=50, ge=1, le=1000)
    before_id: int | None = None


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
    after_seq: int = 0
    agent: AgentName | None = None
    kinds: list[str] | None = None
    limit: int = Field(default=200, ge=1, le=5000)


class Interrupt(HostRequest):
    """End the agent's running turn cleanly; the message it was working on is kept."""

    cmd: Literal["interrupt"]
    name: AgentName


class SetModel(HostRequest):
    cmd: Literal["set_model"]
    name: AgentName
    model: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\[\]-]+$")


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
    id: int
    answer: Body


class CancelQuestion(HostRequest):
    cmd: Literal["cancel_question"]
    id: int


class ListReminders(HostRequest):
    cmd: Literal["reminders"]
    agent: AgentName | None = None


class CancelReminder(HostRequest):
    cmd: Literal["cancel_reminder"]
    id: int


class LooseEnds(HostRequest):
    """Everything open across the hive: questions, reminders (and approvals, schedules)."""

    cmd: Literal["loose_ends"]
    agent: AgentName | None = None


ApprovalStatusName = Literal["pending", "approved", "denied", "failed", "cancelled"]


class Pending(HostRequest):
    """Approvals of every status, newest first (hyperhive v1 `pending`); filter by status, kind, agent."""

    cmd: Literal["pending"]
    status: ApprovalStatusName | None = None
    kind: str | None = None
    agent: AgentName | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class ShowApproval(HostRequest):
    cmd: Literal["show_approval"]
    id: int


class Approve(HostRequest):
    cmd: Literal["approve"]
    id: int


class Deny(HostRequest):
    cmd: Literal["deny"]
    id: int
    note: str | None = Field(default=None, max_length=4000)


class ListSchedules(HostRequest):
    cmd: Literal["schedules"]
    all: bool = False


class CreateSchedule(HostRequest):
    cmd: Literal["create_schedule"]
    targets: list[str] = Field(min_length=1, max_length=100)
    body: Body
    first_fire_at: str | float
    interval_seconds: float | None = Field(default=None, gt=0)
    description: str = Field(default="", max_length=500)


class UpdateSchedule(HostRequest):
    cmd: Literal["update_schedule"]
    id: int
    targets: list[str] | None = Field(default=None, min_length=1, max_length=100)
    body: Body | None = None
    next_fire_at: str | float | None = None
    interval_seconds: float | None = Field(default=None, gt=0)
    description: str | None = Field(default=None, max_length=500)


class SetSchedulePaused(HostRequest):
    cmd: Literal["set_schedule_paused"]
    id: int
    paused: bool


class CancelSchedule(HostRequest):
    cmd: Literal["cancel_schedule"]
    id: int
    targets: list[str] | None = None


class FireSchedule(HostRequest):
    cmd: Literal["fire_schedule"]
    id: int


class Scoped(HostRequest):
    """A lifecycle verb's scope: `name` (hyperhive v1), `agent_names`, or `all: true`. Empty is an error,
    never "everything"."""

    name: AgentName | None = None
    agent_names: list[AgentName] = []
    all: bool = False

    @model_validator(mode="after")
    def _explicit(self) -> Scoped:
        named = ([self.name] if self.name else []) + list(self.agent_names)
        if self.all and named:
            raise ValueError("the scope names agents and says all: say one of them")
        if not self.all and not named:
            raise ValueError('the scope is empty: give "name", "agent_names", or "all": true')
        return self

    def names(self, every: list[str]) -> list[str]:
        return every if self.all else list(dict.fromkeys(([self.name] if self.name else []) + self.agent_names))


class Start(Scoped):
    cmd: Literal["start"]


class Stop(Scoped):
    """Graceful: the running turn may finish, within the agent's stop timeout."""

    cmd: Literal["stop"]


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
    | DashboardUrl
    | RollbackConfig
    | AgentLogs,
    Field(discriminator="cmd"),
]
HOST_REQUEST: TypeAdapter[AnyHostRequest] = TypeAdapter(AnyHostRequest)
