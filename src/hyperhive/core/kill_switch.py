"""The kill switch: pause every agent and disarm every schedule in one request, and undo exactly that.

The plan (which agents and schedules it pauses: those not paused already) is written as one `paused_all`
event *before* anything changes, so a daemon killed half-way leaves a record `resume_all` can undo in full;
both directions are idempotent. `resume_all` undoes the newest `paused_all` that no `resumed_all` followed,
and nothing else: an agent the operator paused by hand before stays paused."""

from __future__ import annotations

from hyperhive.protocol import ErrorCode, HiveError
from hyperhive.protocol.replies import Paused, Resumed
from hyperhive.store.records import ScheduleStatus

from .parts import HiveParts

PAUSED_ALL, RESUMED_ALL = "paused_all", "resumed_all"


async def pause_all(hive: HiveParts) -> Paused:
    agents = [a.name for a in hive.registry.all() if not a.paused and a.lifecycle != "destroyed"]
    schedules = [s.id for s in await hive.store.list_schedules(["active"])]
    lines = [f"{name}: paused" for name in agents] + [f"schedule #{sid}: disarmed" for sid in schedules]
    payload = {"agents": agents, "schedules": schedules, "lines": lines}
    event = await hive.notify(PAUSED_ALL, None, payload)  # the plan first: a crash half-way can be undone
    await _apply(hive, agents, schedules, paused=True)
    return Paused(paused_agents=agents, paused_schedules=schedules, event_seq=event.seq)


async def resume_all(hive: HiveParts) -> Resumed:
    last = await hive.store.events_before(None, kinds=[PAUSED_ALL, RESUMED_ALL], limit=1)
    if not last or last[-1].kind != PAUSED_ALL:
        raise HiveError(ErrorCode.CONFLICT, "nothing to resume: no `pause --all` is in force")
    plan = last[-1].payload
    agents = [n for n in plan.get("agents", []) if hive.registry.get(n) is not None]
    schedules = [int(s) for s in plan.get("schedules", [])]
    await _apply(hive, agents, schedules, paused=False)
    lines = [f"{name}: resumed" for name in agents] + [f"schedule #{sid}: rearmed" for sid in schedules]
    event = await hive.notify(RESUMED_ALL, None, {"agents": agents, "schedules": schedules, "lines": lines,
                                                  "undoes": last[-1].seq})
    return Resumed(resumed_agents=agents, resumed_schedules=schedules, event_seq=event.seq)


async def _apply(hive: HiveParts, agents: list[str], schedules: list[int], *, paused: bool) -> None:
    for name in agents:
        await hive.registry.update(name, paused=paused)
        hive.broker.inboxes.notify(name)  # a harness holding a recv learns at once
    current: ScheduleStatus = "active" if paused else "paused"
    existing = {s.id: s for s in await hive.store.list_schedules(["active", "paused"])}
    for sid in schedules:
        found = existing.get(sid)
        if found is not None and found.status == current:  # a cancelled or already-done one is left alone
            await hive.schedules.set_paused(sid, paused)
