"""The meter's rows outlive the daemon: a restarted hive rebuilds today's and this month's totals from the
usage table (so a spent budget stays spent), and rows older than 400 days are pruned at start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hyperhive.core.hive import Hive
from hyperhive.gateway.usage import Usage
from hyperhive.store.usage import UsageRecord
from tests.support.agents import add_agent
from tests.support.clock import ManualClock
from tests.support.hive import settings_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


async def test_totals_survive_a_restart_and_old_rows_are_pruned(short_tmp: Path) -> None:
    settings = settings_for(short_tmp)
    (short_tmp / "state").mkdir(parents=True)
    (short_tmp / "state" / "host.toml").write_text("[budget]\ndaily_tokens = 1000\nmonthly_usd = 100\n")
    async with Hive(settings, clock=ManualClock(NOW)) as hive:
        await (await add_agent(hive, "alice")).close()
        await hive.store.add_usage([UsageRecord(NOW - 401 * 86400, "alice", None, "m", 1, 1, 0, 0, 0.0, False)])
        hive.gateway.spend.record("alice", "claude-opus-4-5", Usage(input_tokens=600, output_tokens=500))
        await hive.gateway.spend.settle()
        assert hive.gateway.spend.exhausted("alice") is not None  # 1,100 tokens today

    async with Hive(settings, clock=ManualClock(NOW + 60)) as hive:
        assert await hive.gateway.spend.refusal("alice") is not None  # still spent after the restart
        rows = await hive.store.usage_totals("agent", 0)
        assert [(r.key, r.calls, r.tokens) for r in rows] == [("alice", 1, 1100)]  # the 401-day-old row is gone
        spent = hive.gateway.spend.ledger.spent("alice", NOW + 60)
        assert (spent.day.tokens, round(spent.month.usd, 6)) == (1100, round((600 * 5 + 500 * 25) / 1e6, 6))
