"""The kill switch (issue 18): `pause_all` pauses every agent and disarms every schedule in one request,
with one event that has one line per agent; `resume_all` undoes exactly that and nothing more."""

from __future__ import annotations

import json
import time

import pytest

from hyperhive.client import RequestFailed
from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from tests.support.agents import add_agent, host


async def test_pause_all_and_resume_all_undo_exactly_each_other(hive: Hive) -> None:
    for name in ("alice", "bob", "carol"):
        await (await add_agent(hive, name)).close()
    await host(hive, "set_paused", name="carol", paused=True)  # paused by hand: not the switch's to undo
    first = time.time() + 3600
    armed = await hive.schedules.create(["alice"], "tick", first, 60.0, "")
    held = await hive.schedules.create(["bob"], "tock", first, None, "")
    await hive.schedules.set_paused(held.id, True)

    paused = await host(hive, "pause_all")
    assert (paused["paused_agents"], paused["paused_schedules"]) == (["alice", "bob"], [armed.id])
    rows = {r["name"]: r["paused"] for r in (await host(hive, "agent_status"))["agent_statuses"]}
    assert rows == {"alice": True, "bob": True, "carol": True}
    assert {s.id: s.status for s in await hive.store.list_schedules()} == {armed.id: "paused", held.id: "paused"}
    events = [json.loads(m.body) for m in await hive.store.inbox_messages(OPERATOR, 50, False)]
    (switch,) = [e for e in events if e["event"] == "paused_all"]  # one event ...
    assert switch["lines"] == ["alice: paused", "bob: paused", f"schedule #{armed.id}: disarmed"]  # ... a line each

    resumed = await host(hive, "resume_all")
    assert (resumed["resumed_agents"], resumed["resumed_schedules"]) == (["alice", "bob"], [armed.id])
    rows = {r["name"]: r["paused"] for r in (await host(hive, "agent_status"))["agent_statuses"]}
    assert rows == {"alice": False, "bob": False, "carol": True}
    assert {s.id: s.status for s in await hive.store.list_schedules()} == {armed.id: "active", held.id: "paused"}
    with pytest.raises(RequestFailed, match="nothing to resume"):
        await host(hive, "resume_all")
