"""Questions, reminders and the loose-ends list: the parts both sockets share."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hyperhive.protocol import ErrorCode, HiveError, parse_rfc3339
from hyperhive.protocol import replies as rp

from .. import views

if TYPE_CHECKING:
    from ..parts import HiveParts as Hive  # what the verbs act on (the doors in hive.py call them)


def due_time(delay_seconds: float | None, at: str | float | None) -> float:
    if delay_seconds is not None:
        return time.time() + delay_seconds
    if isinstance(at, int | float):
        return float(at)
    try:
        return parse_rfc3339(str(at))
    except ValueError:
        raise HiveError(ErrorCode.BAD_REQUEST, f"at: {at!r} is not an RFC 3339 time like 2026-11-24T18:30:00Z"
                        ) from None


async def loose_ends(hive: Hive, agent: str | None) -> rp.LooseEndsReply:
    """`agent`: that agent's (questions it asked or was asked, its reminders); None: the whole hive's."""
    questions = await hive.store.questions(status="open", involving=agent, limit=1000)
    approvals = await hive.store.list_approvals(status="pending", limit=1000)
    schedules = await hive.store.list_schedules(["awaiting_approval", "active", "paused"])
    return rp.LooseEndsReply(loose_ends=rp.LooseEnds(
        questions=[views.question(q) for q in questions],
        reminders=[views.reminder(r) for r in hive.reminders.pending(agent)],
        approvals=[views.approval(a) for a in approvals if agent is None or agent in (a.requested_by, a.agent)],
        schedules=[views.schedule(s) for s in schedules if agent is None or hive.schedules.visible_to(s, agent)],
    ))


async def cancel_loose_end(hive: Hive, kind: str, item_id: int, by: str | None) -> rp.LooseEndCancelled:
    """`by`: the agent cancelling (it must own the item), or None for the operator or the manager."""
    if kind == "question":
        return rp.LooseEndCancelled(question=views.question(await hive.questions.cancel(item_id, by)))
    if kind == "reminder":
        return rp.LooseEndCancelled(reminder=views.reminder(await hive.reminders.cancel(item_id, by)))
    if kind == "approval":
        return rp.LooseEndCancelled(approval=views.approval(await hive.approvals.cancel(item_id, by)))
    if kind == "schedule":
        return rp.LooseEndCancelled(schedule=views.schedule(await hive.schedules.cancel(item_id, by)))
    raise HiveError(ErrorCode.BAD_REQUEST, f"unknown loose end kind {kind!r}")
