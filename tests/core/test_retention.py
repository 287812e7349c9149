"""Retention on a real daemon and a real database: what came of age is pruned at start and then on a timer
armed for the next due time; approvals, questions, audit events and unread mail are kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hyperhive.config.settings import HiveSettings, load_settings
from hyperhive.core import retention as retention_module
from hyperhive.core.hive import Hive
from hyperhive.store import EventRecord
from tests.support.agents import add_agent
from tests.support.hive import settings_for
from tests.support.postgres import hive_database

DAY = 24 * 3600.0


def seed(settings: HiveSettings, now: float) -> None:
    """Rows as months of use leave them (the test writes the past; everything after is the daemon's)."""
    old, recent = now - 40 * DAY, now - 1 * DAY
    with hive_database(settings) as db:
        mail = ("INSERT INTO messages (sender, recipient, body, sent_at, delivered_at, acked_at) "
                "VALUES (?, ?, ?, ?, ?, ?)")
        db.execute(mail, ("operator", "alice", "old and read", old, old, old))
        db.execute(mail, ("operator", "alice", "old and never read", old, None, None))
        db.execute(mail, ("operator", "alice", "recent and read", recent, recent, recent))
        # comes of age a moment after the daemon starts: the timer must fire for it
        soon = now - 30 * DAY + 1.0
        db.execute(mail, ("operator", "alice", "about to age", soon, soon, soon))
        event = "INSERT INTO events (at, agent, kind, payload) VALUES (?, ?, ?, '{}')"
        db.execute(event, (old, "alice", "turn.stream"))
        db.execute(event, (old, "alice", "container_crash"))
        db.execute(event, (old, "alice", "approval_resolved"))
        db.execute(event, (old, None, "question_asked"))
        db.execute(event, (recent, "alice", "turn.stream"))
        # a finished spawn (done_at): an approved one without it is work the daemon resumes at start
        db.execute("INSERT INTO approvals (kind, agent, requested_by, status, requested_at, done_at) "
                   "VALUES ('spawn', 'alice', 'operator', 'approved', ?, ?)", (old, old))
        db.execute("INSERT INTO questions (asker, target, question, asked_at, status) "
                   "VALUES ('alice', 'operator', 'why?', ?, 'answered')", (old,))
        db.execute("INSERT INTO turn_stats (agent, started_at, ended_at) VALUES ('alice', ?, ?)",
                   (now - 91 * DAY, now - 91 * DAY))
        db.execute("INSERT INTO turn_stats (agent, started_at, ended_at) VALUES ('alice', ?, ?)", (old, old))


def bodies(settings: HiveSettings) -> list[str]:
    with hive_database(settings) as db:
        return sorted(row[0] for row in db.execute("SELECT body FROM messages"))


async def test_retention_prunes_what_came_of_age_and_keeps_the_audit(short_tmp: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention_module, "MIN_GAP_SECONDS", 0.0)  # the test cannot wait an hour for a batch
    settings = settings_for(short_tmp)
    async with Hive(settings) as hive:  # made and migrated by the daemon itself
        await (await add_agent(hive, "alice")).close()
    now = time.time()
    seed(settings, now)
    pruned: asyncio.Queue[EventRecord] = asyncio.Queue()
    async with Hive(settings) as hive:
        hive.events.listen(lambda events: [pruned.put_nowait(e) for e in events if e.kind == "retention"])
        # The run at start may be done already (then it is stored) or still to come (then it is pushed).
        runs = {e.seq: e for e in await hive.store.events_after(0, None, ["retention"])}

        async def next_run() -> EventRecord:
            while True:
                event = await asyncio.wait_for(pruned.get(), 10)
                if event.seq not in runs:
                    runs[event.seq] = event
                    return event

        first = runs[min(runs)] if runs else await next_run()
        assert (first.payload["events"], first.payload["turn_stats"]) == (2, 1)
        if first.payload["messages"] == 1:  # "about to age" was still young at start: the timer must take it
            assert bodies(settings) == ["about to age", "old and never read", "recent and read"]
            later = sorted(seq for seq in runs if seq > first.seq)
            second = runs[later[0]] if later else await next_run()
            assert time.time() >= now + 1.0 and second.payload["messages"] == 1
        else:  # a start slower than a second (a loaded machine) took both at once
            assert first.payload["messages"] == 2
        assert bodies(settings) == ["old and never read", "recent and read"]
        stored = await hive.store.events_after(0, limit=1000)
        assert sorted(e.kind for e in stored if e.at < now - 20 * DAY) == ["approval_resolved", "question_asked"]
        assert [e.kind for e in stored if e.at == now - DAY] == ["turn.stream"]
        assert len(await hive.store.list_approvals(limit=10)) == 1
        assert len(await hive.store.questions(status=None, limit=10)) == 1
        assert [t.started_at for t in await hive.store.turn_stats("alice", 0)] == [now - 40 * DAY]
        row = (await hive.status_rows(["alice"]))[0]
        assert row.unread == 1  # the old unread mail is still there to read
    if not settings.database:  # SQLite gives pruned pages back to the file system bit by bit
        with hive_database(settings) as db:
            assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


def test_retention_days_is_a_setting_with_a_clear_error() -> None:
    assert load_settings({}, environ={}).retention_days == 30.0
    assert load_settings({}, environ={"HYPERHIVE_RETENTION_DAYS": "7"}).retention_days == 7.0
    with pytest.raises(ValueError, match="retention_days must be a positive number of days, not 'soon'"):
        load_settings({"retention_days": "soon"}, environ={})
    with pytest.raises(ValueError, match="positive"):
        load_settings({}, environ={"HYPERHIVE_RETENTION_DAYS": "0"})
