"""A reminder whose delivery write fails stays pending (counted, listed) and is delivered on the retry."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hyperhive.core import reminders as reminders_module
from hyperhive.core.hive import Hive
from tests.support.agents import add_agent, host
from tests.support.postgres import hive_database

FAIL_TRIGGER = ("CREATE TRIGGER refuse_delivery BEFORE UPDATE OF delivered_at ON reminders "
                "BEGIN SELECT RAISE(ABORT, 'the disk says no'); END")
# The same refusal on the PostgreSQL run: a trigger there calls a function.
FAIL_TRIGGER_PG = ("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'the disk says no'; END $$; "
                   "CREATE TRIGGER refuse_delivery BEFORE UPDATE OF delivered_at ON reminders "
                   "FOR EACH ROW EXECUTE FUNCTION refuse()")


class _Seen(logging.Handler):
    """Sets an event when the reminders module logs a failed delivery: the readiness signal."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        if "could not be delivered" in record.getMessage():
            self.loop.call_soon_threadsafe(self.failed.set)


async def test_a_failed_delivery_write_keeps_the_reminder(hive: Hive, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reminders_module, "RETRY_SECONDS", 0.2)
    seen = _Seen()
    logging.getLogger(reminders_module.__name__).addHandler(seen)
    alice = await add_agent(hive, "alice")
    on_postgres = bool(hive.settings.database)
    try:
        with hive_database(hive.settings) as db:
            # a real failure of the real store's write, not a stand-in; off the loop (the hive's own
            # transactions on it must be able to finish while the back door waits for its lock)
            await asyncio.to_thread(db.execute, FAIL_TRIGGER_PG if on_postgres else FAIL_TRIGGER)
            await alice.request("remind", message="water the plants", delay_seconds=0.0)
            await asyncio.wait_for(seen.failed.wait(), 10)
            row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
            assert row["pending_reminders"] == 1
            ends = (await alice.request("get_loose_ends"))["loose_ends"]
            assert [r["body"] for r in ends["reminders"]] == ["water the plants"]
            await asyncio.to_thread(db.execute, "DROP TRIGGER refuse_delivery" + " ON reminders" * on_postgres)
        got = await alice.request("recv", wait_seconds=10, ack=True)
        assert [(m["sender"], m["body"]) for m in got["messages"]] == [("reminder", "water the plants")]
        row = (await host(hive, "agent_status", names=["alice"]))["agent_statuses"][0]
        assert row["pending_reminders"] == 0
    finally:
        logging.getLogger(reminders_module.__name__).removeHandler(seen)
        await alice.close()
