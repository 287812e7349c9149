"""Storage of the hive's nodes (heartbeats) and of leases on hive-wide duties. Time is the store's own
clock (the database's on PostgreSQL), so nodes whose clocks disagree still agree on who holds a lease."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    """What one node tells the others through the database (PostgreSQL NOTIFY channels); the payload is
    the name or id the news is about."""

    MAIL = "hive_mail"  # payload: the recipient of mail just committed
    NODES = "hive_nodes"  # a node beat or stopped cleanly; payload: beat:<name> or leave:<name>
    AGENTS = "hive_agents"  # an agent row was made, changed or removed; payload: its name
    COMMANDS = "hive_commands"  # a lifecycle verb waits for a node; payload: that node's name
    COMMAND_DONE = "hive_command_done"  # a command was claimed or finished; payload: its id
    APPROVALS = "hive_approvals"  # an approval was shown or resolved; payload: JSON id, agent, status
    APPROVED_WORK = "hive_approved_work"  # approved work waits for a node; payload: that node's name


@dataclass(frozen=True)
class NodeRecord:
    name: str
    started_at: float
    seen_at: float
    age: float  # seconds since its last heartbeat, by the store's clock
    stopped: bool = False  # it stopped cleanly after its last heartbeat


@dataclass(frozen=True)
class LeaseRecord:
    name: str
    holder: str
    epoch: int  # grows by one each time the lease changes hands
    expires_at: float


COMMAND_PENDING, COMMAND_RUNNING, COMMAND_DONE, COMMAND_FAILED, COMMAND_EXPIRED = (
    "pending", "running", "done", "failed", "expired")


@dataclass(frozen=True)
class CommandRecord:
    """A lifecycle verb for an agent that another node runs, carried out by that node."""

    id: int
    node: str
    agent: str
    verb: str
    args: dict[str, object]
    status: str  # pending, running, done, failed (error_code and error say why), expired (never claimed)
    error_code: str | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in (COMMAND_DONE, COMMAND_FAILED, COMMAND_EXPIRED)


@dataclass(frozen=True)
class MailHolder:
    """Who mail in hand is leased to: a node's incarnation (`epoch`, one higher at each start), for `ttl`
    seconds from each heartbeat."""

    node: str
    epoch: int
    ttl: float


class NodeStore(ABC):
    mail_holder: MailHolder | None = None

    def hold_mail(self, holder: MailHolder) -> None:
        """From now on, mail this store hands out (`mark_delivered`) is leased to `holder`, renewed by its
        heartbeats; mail leased to anyone else (another node, an earlier incarnation) is not handed out
        until that lease expires, and their acks are refused. Only PostgreSQL leases: on SQLite the one
        node's broker holds mail in memory."""
        self.mail_holder = holder

    @abstractmethod
    async def node_beat(self, node: str, starting: bool = False) -> int:
        """Record that `node` is alive now (`starting`: and that it (re)started now, a new incarnation);
        return its incarnation. A beat renews the leases of mail its incarnation holds."""

    @abstractmethod
    async def node_leave(self, node: str) -> None:
        """Record that `node` stopped cleanly (its agents are offline now, not when its heartbeat lapses)."""

    @abstractmethod
    async def list_nodes(self) -> list[NodeRecord]: ...

    @abstractmethod
    async def claim_lease(self, name: str, holder: str, ttl: float) -> LeaseRecord | None:
        """Take the lease for `ttl` seconds if it is free, expired, or already `holder`'s (a renewal keeps the
        epoch; a takeover adds one); None when another holder's lease is still running."""

    @abstractmethod
    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean shutdown), if `holder` holds it."""

    # --- lifecycle verbs carried out by another node ----------------------------------------------
    @abstractmethod
    async def add_command(self, node: str, agent: str, verb: str, args: dict[str, object]) -> int:
        """Queue a verb for `node` (and tell it); its id."""

    @abstractmethod
    async def claim_commands(self, node: str, max_age: float) -> list[CommandRecord]:
        """Take every pending command of `node` younger than `max_age` seconds (pending -> running), oldest
        first; two claimers never get the same one. Older ones' callers stopped waiting: they stay unrun."""

    @abstractmethod
    async def finish_command(self, command_id: int, error_code: str | None = None, error: str | None = None) -> None:
        """Record the outcome (done, or failed with the error) and tell the caller."""

    @abstractmethod
    async def expire_command(self, command_id: int) -> bool:
        """Withdraw a command nobody claimed; False when its node claimed it first."""

    @abstractmethod
    async def get_command(self, command_id: int) -> CommandRecord | None: ...
