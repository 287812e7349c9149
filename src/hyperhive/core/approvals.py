"""Operator approvals: the gate every config change, new agent and scheduled prompt passes.

A request is stored `pending`; the operator approves or denies it (host.sock or dashboard). Approving
is a conditional update (pending → approved), so approving twice, or approving a resolved id, is a clear
error and never a second deploy. Approved work runs through one queue, one item at a time, and is
recorded as done when it ends; work approved but not done when the daemon died resumes on start.
Every outcome reaches the requester (and the manager) as an `approval_resolved` event.

In a hive over several hosts an approval may name the node that carries out its work (`node`: the agent's, for
a config change). Any node approves or denies (one conditional row update); the named node runs the work: the
node is told (Channel.APPROVED_WORK), and it picks the row up from the database, also at start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from hyperhive.protocol import MANAGER_NAME, OPERATOR, ErrorCode, HiveError, rfc3339
from hyperhive.protocol.replies import Approval
from hyperhive.store import ApprovalRecord, ApprovalStatus, Store, StoreError

from .announce import Announcer
from .events import EventLog
from .registry import AgentRegistry
from .speech import agent_words

log = logging.getLogger(__name__)

# Payload fields an agent writes itself (a scheduled prompt's body, a new agent's description).
AGENT_WRITTEN = frozenset({"body", "agent_description"})
# What approved work returns: the final status (approved or failed) and a note for the requester.
WorkResult = tuple[ApprovalStatus, str | None]
CATCH_UP = -1  # in the work queue: re-read the approved work this node carries out (the store woke us)


@dataclass(frozen=True)
class KindHandlers:
    approved: Callable[[ApprovalRecord], Awaitable[WorkResult]]
    closed: Callable[[ApprovalRecord], Awaitable[None]] | None = None  # denied or cancelled: undo side effects
    quiet: bool = False  # no approval_resolved mail: the requester waits on the resolution itself (tool_use)


def approval_view(a: ApprovalRecord) -> Approval:
    """The wire's approval: what replies answer and `approval_*` events carry."""
    return Approval(id=a.id, kind=a.kind, agent=a.agent, requested_by=a.requested_by, commit_ref=a.commit_ref,
                    fetched_sha=a.fetched_sha, description=a.description, status=a.status,
                    requested_at=rfc3339(a.requested_at), resolved_at=rfc3339(a.resolved_at), note=a.note,
                    done=a.done_at is not None, diff=a.payload.get("diff"),
                    details={k: v for k, v in a.payload.items() if k != "diff"})


class Handover(Protocol):
    """Where an agent of another node has its approved work done (core/remote_verbs.py)."""

    def elsewhere(self, name: str) -> str | None: ...

    async def hand_over(self, node: str, agent: str, approval_id: int) -> None: ...


class _NoOtherNodes:
    def elsewhere(self, name: str) -> str | None:
        return None

    async def hand_over(self, node: str, agent: str, approval_id: int) -> None:
        raise AssertionError("no other node to hand work to")


class Approvals:
    def __init__(self, store: Store, registry: AgentRegistry, events: EventLog, notify: Announcer,
                 node: str | None = None) -> None:
        self.remote: Handover = _NoOtherNodes()  # the hive sets its node commands once they exist
        self.store = store
        self.node = node
        self.registry = registry
        self.events = events
        self.notify = notify
        self._kinds: dict[str, KindHandlers] = {}
        self._pending: dict[int, str] = {}  # id → agent, for the status rows' counts
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._seen: set[int] = set()  # approved work queued or run by this node (a wake must not repeat it)

    def register(self, kind: str, handlers: KindHandlers) -> None:
        self._kinds[kind] = handlers

    async def start(self) -> None:
        for a in await self.store.list_approvals(status="pending", limit=100_000):
            self._pending[a.id] = a.agent
        for a in await self._unfinished_here():
            if self.remote.elsewhere(a.agent) is not None:
                continue  # another node's agent: that node resumes it (core/remote_verbs.py)
            log.info("resuming approved %s #%d for %s", a.kind, a.id, a.agent)
            self._enqueue(a.id)
        self._worker = asyncio.create_task(self._work(), name="approvals")

    def told_approved(self, node: str) -> None:
        """Another node approved work that `node` carries out (Channel.APPROVED_WORK)."""
        if node == self.node:
            self.catch_up()

    def catch_up(self) -> None:
        """Re-read the approved work this node carries out (told of some, or the listener reconnected)."""
        self._queue.put_nowait(CATCH_UP)

    def here(self, record: ApprovalRecord) -> bool:
        """Whether this node carries out the approval's work (a row naming no node: any node does)."""
        return record.node is None or record.node == self.node

    def hold(self, approval_id: int) -> None:
        """Approved work this node runs itself, outside the queue (the operator's direct spawn)."""
        self._seen.add(approval_id)

    async def _unfinished_here(self, named: bool = False) -> list[ApprovalRecord]:
        """Approved work not done that this node carries out; `named`: only rows naming this node (a wake
        must not pick up a row naming no node, which the node that approved it is running)."""
        approved = await self.store.list_approvals(status="approved", limit=100_000)
        mine = (a for a in approved if a.done_at is None and a.id not in self._seen
                and (a.node == self.node if named else self.here(a)))
        return sorted(mine, key=lambda a: a.id)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def drained(self) -> None:
        """Wait until queued approved work has run (for callers that report the outcome)."""
        await self._idle.wait()

    def follow(self, approval_id: int, agent: str, status: str) -> None:
        """Another node showed or resolved an approval (core/nodes.py): one pending set hive-wide."""
        if status == "pending":
            self._pending[approval_id] = agent
        else:
            self._pending.pop(approval_id, None)

    def pending_count(self, agent: str) -> int:
        return sum(1 for a in self._pending.values() if a == agent)

    # --- requests ---------------------------------------------------------------------------------
    async def request(self, kind: str, agent: str, requested_by: str, *, description: str = "",
                      commit_ref: str | None = None, fetched_sha: str | None = None,
                      payload: Mapping[str, object] | None = None, node: str | None = None) -> ApprovalRecord:
        """`payload`: the kind's own keys (a tool call's input, a schedule's prompt, …), kept on the record."""
        if kind not in self._kinds:
            raise HiveError(ErrorCode.BAD_REQUEST, f"unknown approval kind {kind!r}")
        record = await self.store.add_approval(
            kind, agent, requested_by, commit_ref=commit_ref, fetched_sha=fetched_sha, description=description,
            payload=dict(payload or {}), status="pending", at=time.time(), node=node)
        self._pending[record.id] = agent
        await self._changed(record, "approval_requested")
        return record

    async def track(self, approval_id: int) -> ApprovalRecord:
        """Put a pending row the caller stored itself (after checks that needed its id) before the operator."""
        record = await self._get(approval_id)
        self._pending[record.id] = record.agent
        await self._changed(record, "approval_requested")
        return record

    async def tell(self, record: ApprovalRecord) -> None:
        await self._tell(record)

    async def refuse(self, kind: str, agent: str, requested_by: str, note: str, *, description: str = "",
                     commit_ref: str | None = None, fetched_sha: str | None = None) -> ApprovalRecord:
        """A request that failed validation: recorded as failed, the reason sent to the requester; the
        operator never sees a card for it."""
        record = await self.store.add_approval(
            kind, agent, requested_by, commit_ref=commit_ref, fetched_sha=fetched_sha, description=description,
            payload={}, status="failed", at=time.time(), note=note)
        await self._tell(record)
        return record

    # --- the operator's answer --------------------------------------------------------------------
    async def approve(self, approval_id: int) -> ApprovalRecord:
        found = await self._get(approval_id)
        if found.status == "pending" and (found.payload.get("image_build") == "building"
                                          or not await self._shown(found)):  # stored, not shown yet
            raise HiveError(ErrorCode.CONFLICT, f"approval #{approval_id} is not ready to decide: its image is "
                                                "still being built; approve it once its card shows the image")
        record = await self._resolve(approval_id, "approved", None)
        node = self.remote.elsewhere(record.agent)
        if node is not None:  # the agent's own node does the work (its config, its sandbox)
            await self.remote.hand_over(node, record.agent, record.id)
        else:
            self._enqueue(record.id)
        return record

    async def _shown(self, record: ApprovalRecord) -> bool:
        """Whether the card is before the operator: tracked here, or (requested on another node, after this
        one started) announced in the hive's shared event log."""
        if record.id in self._pending:
            return True
        announced = await self.store.events_before(None, agent=record.agent, kinds=["approval_requested"], limit=200)
        return any(event.payload.get("id") == record.id for event in announced)

    async def deny(self, approval_id: int, note: str | None) -> ApprovalRecord:
        record = await self._resolve(approval_id, "denied", note, done=True)
        await self._closed(record)
        await self._tell(record)
        return record

    async def cancel(self, approval_id: int, by: str | None, note: str | None = None) -> ApprovalRecord:
        """`by`: the requester cancelling its own request, or None for the operator or the manager (or the
        hive itself, which then says why in `note`)."""
        current = await self._get(approval_id)
        if by is not None and by != current.requested_by:
            raise HiveError(ErrorCode.NOT_ALLOWED, f"only {current.requested_by} can cancel approval #{approval_id}")
        record = await self._resolve(approval_id, "cancelled", note or f"cancelled by {by or OPERATOR}", done=True)
        await self._closed(record)
        await self._tell(record)
        return record

    async def _resolve(self, approval_id: int, status: ApprovalStatus, note: str | None,
                       done: bool = False) -> ApprovalRecord:
        await self._get(approval_id)
        record = await self.store.resolve_approval(approval_id, status, note, time.time(), done=done)
        if record is None:
            now = await self._get(approval_id)
            raise HiveError(ErrorCode.CONFLICT, f"approval #{approval_id} is already {now.status}; "
                                                "nothing was done again")
        self._pending.pop(approval_id, None)
        await self._changed(record, "approval_updated")
        return record

    async def _get(self, approval_id: int) -> ApprovalRecord:
        record = await self.store.get_approval(approval_id)
        if record is None:
            raise HiveError(ErrorCode.NOT_FOUND, f"no approval #{approval_id}")
        return record

    # --- approved work, one at a time ------------------------------------------------------------
    def run_here(self, approval_id: int) -> None:
        """Do approved work another node handed over (its agent runs here)."""
        self._enqueue(approval_id)

    def _enqueue(self, approval_id: int) -> None:
        self._seen.add(approval_id)  # a catch-up must not queue it again
        self._idle.clear()
        self._queue.put_nowait(approval_id)

    async def _work(self) -> None:
        while True:
            approval_id = await self._queue.get()
            if approval_id == CATCH_UP:
                with contextlib.suppress(StoreError):  # the database is away: its next (re)connect wakes us again
                    for a in await self._unfinished_here(named=True):
                        log.info("approved on another node: %s #%d for %s", a.kind, a.id, a.agent)
                        self._enqueue(a.id)
                if self._queue.empty():
                    self._idle.set()
                continue
            try:
                await self._run(approval_id)
            except Exception:
                log.exception("approved work #%d crashed", approval_id)
                with contextlib.suppress(Exception):
                    record = await self.store.finish_approval(approval_id, "failed",
                                                                   "internal error; see the daemon log", time.time())
                    await self._tell(record)
            if self._queue.empty():
                self._idle.set()

    async def _run(self, approval_id: int) -> None:
        self._seen.add(approval_id)
        record = await self._get(approval_id)
        if record.status != "approved" or record.done_at is not None:
            return  # done already (queued twice: handed over by another node, woken, resumed at start)
        if not self.here(record):  # its node was told by the approval itself (APPROVED_WORK)
            log.info("approved %s #%d is carried out by node %s", record.kind, record.id, record.node)
            return
        status, note = await self._kinds[record.kind].approved(record)
        final = await self.store.finish_approval(approval_id, status, note, time.time())
        await self._changed(final, "approval_updated")
        await self._tell(final)

    async def _closed(self, record: ApprovalRecord) -> None:
        handlers = self._kinds.get(record.kind)
        if handlers is not None and handlers.closed is not None:
            await handlers.closed(record)

    async def _changed(self, record: ApprovalRecord, kind: str) -> None:
        await self.events.append(kind, record.agent, approval_view(record))
        if self.registry.get(record.agent) is not None:
            self.registry.changes.changed(record.agent)

    async def _tell(self, record: ApprovalRecord) -> None:
        """The requester hears the outcome; config outcomes always reach the manager too."""
        handlers = self._kinds.get(record.kind)
        if handlers is not None and handlers.quiet:
            return
        recipients = {MANAGER_NAME}
        if record.requested_by != OPERATOR:
            recipients.add(record.requested_by)
        approval = approval_view(record)
        view = approval.model_dump(mode="json", exclude={"diff"})
        if record.requested_by != OPERATOR:  # what the requesting agent wrote, quoted as its words (not a str)
            view["description"] = agent_words(record.requested_by, record.description)
            view["details"] = {k: agent_words(record.requested_by, str(v)) if k in AGENT_WRITTEN else v
                               for k, v in approval.details.items()}
        await self.notify("approval_resolved", record.agent, {"approval": view},
                          recipients=tuple(sorted(recipients)))
