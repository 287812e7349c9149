"""The loop breaker (issue 18): past `max_turns_per_hour` an agent is paused with the reason, hm1nd, the
operator and the agent itself are told, and `resume` lifts it with the count started afresh."""

from __future__ import annotations

import json

from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from tests.support.agents import add_agent, host


async def test_an_agent_past_its_turns_per_hour_is_paused_until_resumed(hive: Hive) -> None:
    (hive.settings.state_dir / "host.toml").write_text("[budget]\nmax_turns_per_hour = 2\n")
    alice = await add_agent(hive, "alice")

    async def turn(n: int) -> bool:
        await alice.request("report", events=[{"kind": "turn_start", "payload": {"id": n, "from": "bob"}},
                                              {"kind": "turn_end", "payload": {"id": n, "ok": True}}])
        row = await hive.status_row("alice")
        assert row is not None
        return row.paused

    assert [await turn(1), await turn(2)] == [False, False]
    assert await turn(3) is True  # the third start in the hour is one too many
    events = [json.loads(m.body) for m in await hive.store.inbox_messages(OPERATOR, 50, False)]
    (tripped,) = [e for e in events if e["event"] == "loop_breaker"]
    assert tripped["agent"] == "alice" and "over max_turns_per_hour = 2" in tripped["reason"]
    told = [m.body for m in await hive.store.inbox_messages("alice", 50, False) if m.sender == "system"]
    assert any("loop breaker" in body for body in told)

    await host(hive, "set_paused", name="alice", paused=False)  # hivectl resume alice
    assert [await turn(4), await turn(5)] == [False, False]  # counted afresh
    await alice.close()
