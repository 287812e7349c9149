"""Scheduled prompts: a body sent (from `schedule`) to each target's inbox at a time, once or every
interval. An agent's request becomes a `schedule_prompt` approval, unless every target hangs below the
requester in the swarm tree (its subtree: the manager's agents, or an agent's own sub-agents), which the
operator already decided; the operator's own schedules need none. After downtime a recurring schedule
fires once, not once per missed interval: firing moves `next_fire_at` to the first slot after now, in the
same transaction that stores the messages."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, TypedDict

from hyperhive.broker import Broker
from hyperhive.protocol import MANAGER_NAME, OPERATOR, SCHEDULE_SENDER, ErrorCode, HiveError, rfc3339
from hyperhive.protocol.replies import Schedule
from hyperhive.store import ApprovalRecord, NewMessage, ScheduleRecord, ScheduleStatus, Store

from .approvals import Approvals, KindHandlers, WorkResult
from .events import EventLog
from .registry import AgentRegistry
from .timers import DueTimers

MIN_INTERVAL_SECONDS = 1.0
KIND = "schedule_prompt"


class SchedulePrompt(TypedDict):
    """A `schedule_prompt` approval's payload: what the operator approves, and the schedule it arms."""

    schedule_id: int
    targets: list[str]
    body: str
    first_fire_at: str | None
    interval_seconds: float | None
    summary: str


class _Rearmed(TypedDict, total=False):
    status: ScheduleStatus
    next_fire_at: float | None


def schedule_view(s: ScheduleRecord) -> Schedule:
    """The wire's schedule: what replies answer and `schedule_updated` events carry."""
    return Schedule(id=s.id, targets=s.targets, body=s.body, description=s.description,
                    first_fire_at=rfc3339(s.first_fire_at), next_fire_at=rfc3339(s.next_fire_at),
                    interval_seconds=s.interval_seconds, status=s.status, created_by=s.created_by,
                    approval_id=s.approval_id, last_fired_at=rfc3339(s.last_fired_at), fire_count=s.fire_count)


def next_slot(due: float, interval: float | None, now: float) -> float | None:
    """The first slot after `now` on the grid `due + k·interval`; None for a one-off."""
    if interval is None:
        return None
    missed = max(0, math.floor((now - due) / interval) + 1)
    return due + missed * interval


class Schedules:
    def __init__(self, store: Store, registry: AgentRegistry, broker: Broker, approvals: Approvals,
                 events: EventLog) -> None:
        self.store = store
        self.registry = registry
        self.broker = broker
        self.approvals = approvals
        self.events = events
        self._timers: DueTimers[int] = DueTimers(self._fire, "schedule")

    def approval_kinds(self) -> dict[str, KindHandlers]:
        return {KIND: KindHandlers(approved=self._approved, closed=self._denied)}

    async def start(self) -> None:
        for s in await self.store.list_schedules(["active"]):
            if s.next_fire_at is not None:
                self._timers.arm(s.id, s.next_fire_at)

    async def close(self) -> None:
        await self._timers.close()

    # --- creating ---------------------------------------------------------------------------------
    async def request(self, agent: str, targets: Sequence[str], body: str, first_fire_at: float,
                      interval_seconds: float | None, description: str) -> tuple[ScheduleRecord, ApprovalRecord]:
        resolved = self._check(agent, targets, interval_seconds)
        below = self.registry.descendants(agent)
        authorised = all(target in below for target in resolved)
        schedule = await self.store.add_schedule(resolved, body, description, first_fire_at, interval_seconds,
                                                      "active" if authorised else "awaiting_approval", agent, None,
                                                      time.time())
        every = f", every {interval_seconds:g} s" if interval_seconds else ""
        what = description or f"scheduled prompt to {', '.join(resolved)}"
        payload = SchedulePrompt(schedule_id=schedule.id, targets=resolved, body=body,
                                 first_fire_at=rfc3339(first_fire_at), interval_seconds=interval_seconds,
                                 summary=f"to {', '.join(resolved)} from {rfc3339(first_fire_at)}{every}")
        if authorised:
            approval = await self._authorised(agent, what, payload)
        else:
            approval = await self.approvals.request(KIND, agent, agent, description=what, payload=payload)
        schedule = await self.store.update_schedule(schedule.id, approval_id=approval.id)
        self._rearm(schedule)
        await self._event(schedule)
        return schedule, approval

    async def _authorised(self, agent: str, description: str, payload: SchedulePrompt) -> ApprovalRecord:
        """Every target hangs below the requester (the tree is the operator's: set_parent, or an approved
        agent.toml), so it is active at once; an approved row keeps the audit trail."""
        now = time.time()
        note = f"authorised without a card: every target is in {agent}'s subtree"
        record = await self.store.add_approval(KIND, agent, agent, commit_ref=None, fetched_sha=None,
                                                    description=description, payload=dict(payload), status="approved",
                                                    at=now, note=note)
        return await self.store.finish_approval(record.id, "approved", note, now)

    async def create(self, targets: Sequence[str], body: str, first_fire_at: float, interval_seconds: float | None,
                     description: str) -> ScheduleRecord:
        """The operator's own schedule: active at once."""
        resolved = self._check(OPERATOR, targets, interval_seconds)
        schedule = await self.store.add_schedule(resolved, body, description, first_fire_at, interval_seconds,
                                                      "active", OPERATOR, None, time.time())
        self._timers.arm(schedule.id, first_fire_at)
        await self._event(schedule)
        return schedule

    def _check(self, sender: str, targets: Sequence[str], interval: float | None) -> list[str]:
        if interval is not None and interval < MIN_INTERVAL_SECONDS:
            raise HiveError(ErrorCode.BAD_REQUEST, f"interval_seconds must be at least {MIN_INTERVAL_SECONDS:g}")
        resolved: list[str] = []
        for target in targets:
            # A schedule for yourself is a recurring reminder: always allowed (a send to yourself is not).
            names = [target] if target == sender else self.broker.resolve_recipients(sender, target)
            for name in names:
                if name not in resolved:
                    resolved.append(name)
        if not resolved:
            raise HiveError(ErrorCode.BAD_REQUEST, "a schedule needs at least one target")
        return resolved

    async def _approved(self, approval: ApprovalRecord) -> WorkResult:
        schedule = await self._require(int(approval.payload["schedule_id"]))
        if schedule.status != "awaiting_approval":
            return "failed", f"schedule #{schedule.id} is {schedule.status}"
        schedule = await self.store.update_schedule(schedule.id, status="active")
        if schedule.next_fire_at is not None:
            self._timers.arm(schedule.id, schedule.next_fire_at)
        await self._event(schedule)
        return "approved", f"schedule #{schedule.id} is active"

    async def _denied(self, approval: ApprovalRecord) -> None:
        schedule = await self.store.get_schedule(int(approval.payload["schedule_id"]))
        if schedule is not None and schedule.status == "awaiting_approval":
            await self._event(await self.store.update_schedule(schedule.id, status="cancelled"))

    # --- changing ---------------------------------------------------------------------------------
    async def update(self, schedule_id: int, **fields: Any) -> ScheduleRecord:
        """The operator edits: targets, body, description, next_fire_at, interval_seconds."""
        current = await self._require(schedule_id)
        if current.status in ("cancelled", "done"):
            raise HiveError(ErrorCode.CONFLICT, f"schedule #{schedule_id} is {current.status}")
        if "targets" in fields:
            fields["targets"] = self._check(OPERATOR, fields["targets"], fields.get("interval_seconds"))
        elif fields.get("interval_seconds") is not None:
            self._check(OPERATOR, current.targets, fields["interval_seconds"])
        schedule = await self.store.update_schedule(schedule_id, **fields)
        self._rearm(schedule)
        await self._event(schedule)
        return schedule

    async def set_paused(self, schedule_id: int, paused: bool) -> ScheduleRecord:
        current = await self._require(schedule_id)
        if current.status not in ("active", "paused"):
            raise HiveError(ErrorCode.CONFLICT, f"schedule #{schedule_id} is {current.status}")
        fields: _Rearmed = {"status": "paused" if paused else "active"}
        if not paused and current.next_fire_at is not None and current.interval_seconds:
            fields["next_fire_at"] = next_slot(current.next_fire_at, current.interval_seconds, time.time() - 1e-3)
        schedule = await self.store.update_schedule(schedule_id, **fields)
        self._rearm(schedule)
        await self._event(schedule)
        return schedule

    async def cancel(self, schedule_id: int, by: str | None, targets: Sequence[str] | None = None) -> ScheduleRecord:
        """`by`: the agent that created it (None: operator or manager). With `targets`, only those stop
        receiving it; the schedule ends when none is left."""
        current = await self._require(schedule_id, by)
        if current.status in ("cancelled", "done"):
            raise HiveError(ErrorCode.CONFLICT, f"schedule #{schedule_id} is already {current.status}")
        left = [t for t in current.targets if targets and t not in targets]
        if left:
            schedule = await self.store.update_schedule(schedule_id, targets=left)
        else:
            schedule = await self.store.update_schedule(schedule_id, status="cancelled")
            if current.status == "awaiting_approval" and current.approval_id is not None:
                with _ignore_conflict():
                    await self.approvals.cancel(current.approval_id, None)
        self._rearm(schedule)
        await self._event(schedule)
        return schedule

    async def fire_now(self, schedule_id: int, by: str | None) -> ScheduleRecord:
        current = await self._require(schedule_id, by)
        if current.status not in ("active", "paused"):
            raise HiveError(ErrorCode.CONFLICT, f"schedule #{schedule_id} is {current.status}, so it cannot fire")
        await self._deliver(current, current.next_fire_at)  # an extra firing: the grid stays as it was
        fired = await self._require(schedule_id)
        await self._event(fired)
        return fired

    def visible_to(self, schedule: ScheduleRecord, agent: str) -> bool:
        return agent == MANAGER_NAME or schedule.created_by == agent or agent in schedule.targets

    # --- firing -----------------------------------------------------------------------------------
    async def _fire(self, schedule_id: int) -> None:
        schedule = await self.store.get_schedule(schedule_id)
        if schedule is None or schedule.status != "active" or schedule.next_fire_at is None:
            return
        if schedule.next_fire_at > time.time():  # another node fired this slot already: wait for the next one
            self._rearm(schedule)
            return
        following = next_slot(schedule.next_fire_at, schedule.interval_seconds, time.time())
        await self._deliver(schedule, following, slot=schedule.next_fire_at)  # another node may fire it too
        updated = await self._require(schedule_id)
        self._rearm(updated)
        await self._event(updated)

    async def _deliver(self, schedule: ScheduleRecord, next_fire_at: float | None, slot: float | None = None) -> None:
        now = time.time()
        messages = [NewMessage(SCHEDULE_SENDER, target, schedule.body, now) for target in schedule.targets]
        stored = await self.store.fire_schedule(schedule.id, messages, next_fire_at, now, slot)
        if stored:
            await self.broker.announce(stored)

    def _rearm(self, schedule: ScheduleRecord) -> None:
        if schedule.status == "active" and schedule.next_fire_at is not None:
            self._timers.arm(schedule.id, schedule.next_fire_at)
        else:
            self._timers.disarm(schedule.id)

    async def _require(self, schedule_id: int, by: str | None = None) -> ScheduleRecord:
        schedule = await self.store.get_schedule(schedule_id)
        if schedule is None:
            raise HiveError(ErrorCode.NOT_FOUND, f"no schedule #{schedule_id}")
        if by is not None and by != MANAGER_NAME and by != schedule.created_by:
            raise HiveError(ErrorCode.NOT_ALLOWED, f"schedule #{schedule_id} belongs to {schedule.created_by}")
        return schedule

    async def _event(self, schedule: ScheduleRecord) -> None:
        await self.events.append("schedule_updated", None, schedule_view(schedule))


class _ignore_conflict:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return isinstance(exc, HiveError) and exc.code == ErrorCode.CONFLICT
