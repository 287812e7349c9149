"""The store's migrations and group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hyperhive.store import NewMessage, _sqlite_db
from hyperhive.store.migrate import MigrationError, load_migrations, migrate_sqlite
from hyperhive.store.sqlite import SQLiteStore
from hyperhive.store.sqlite_messages import insert_messages


@pytest.mark.sqlite_only("SQLite's migration runner (PostgreSQL's: tests/store/test_migrations_backends.py)")
def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "hive.db", isolation_level=None)
    applied = migrate_sqlite(conn)
    assert applied == [m.version for m in load_migrations("sqlite")]
    assert migrate_sqlite(conn) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"agents", "messages", "events", "schema_migrations"} <= tables


@pytest.mark.sqlite_only("SQLite's migration runner (PostgreSQL's: tests/store/test_migrations_backends.py)")
def test_a_database_from_a_newer_hyperhive_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "hive.db", isolation_level=None)
    migrate_sqlite(conn)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    with pytest.raises(MigrationError, match="newer version"):
        migrate_sqlite(conn)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[sqlite3.Connection, list[str]]]:
    """Every connection the store opens, with the statements it ran (sqlite3's trace callback)."""
    opened: list[tuple[sqlite3.Connection, list[str]]] = []
    real = _sqlite_db.connect

    def tracing(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
        conn = real(path, readonly=readonly)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        opened.append((conn, statements))
        return conn

    monkeypatch.setattr(_sqlite_db, "connect", tracing)
    return opened


@pytest.mark.sqlite_only("the SQLite writer thread's batching (PostgreSQL's: tests/store/test_pg_group_commit.py)")
async def test_concurrent_writes_are_batched(tmp_path: Path, traced: list[tuple[sqlite3.Connection, list[str]]]
                                             ) -> None:
    store = SQLiteStore(tmp_path / "hive.db")
    await store.open()
    writer_statements = traced[0][1]
    before = writer_statements.count("COMMIT")
    sends = [store.insert_messages([NewMessage("a", "b", f"m{i}", time.time())]) for i in range(500)]
    stored = await asyncio.gather(*sends)
    commits = writer_statements.count("COMMIT") - before
    await store.close()
    assert len({batch[0].id for batch in stored}) == 500
    assert 1 <= commits < 50, f"500 concurrent writes took {commits} commits: they were not batched"
    conn = sqlite3.connect(tmp_path / "hive.db")
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 500


@pytest.mark.sqlite_only("SQLite's synchronous=FULL pragma on each connection")
async def test_every_connection_commits_with_synchronous_full(
    tmp_path: Path, traced: list[tuple[sqlite3.Connection, list[str]]]
) -> None:
    """FULL (2) fsyncs the WAL on every commit: an answered write survives a power cut, not only a kill -9."""
    store = SQLiteStore(tmp_path / "hive.db")
    await store.open()
    await store.insert_messages([NewMessage("a", "b", "x", time.time())])
    assert await store.count_unacked("b") == 1  # a reader connection too
    levels = [conn.execute("PRAGMA synchronous").fetchone()[0] for conn, _ in traced]
    modes = [conn.execute("PRAGMA journal_mode").fetchone()[0] for conn, _ in traced]
    await store.close()
    assert len(traced) >= 2 and levels == [2] * len(traced) and set(modes) == {"wal"}


WRITER = """
import asyncio, sys, time
from pathlib import Path
from hyperhive.store import NewMessage, _sqlite_db
from hyperhive.store.sqlite import SQLiteStore
from hyperhive.store.sqlite_messages import insert_messages

async def main() -> None:
    store = SQLiteStore(Path(sys.argv[1]))
    await store.open()
    async def one(i: int) -> None:
        stored = await store.insert_messages([NewMessage("a", "b", f"m{i}", time.time())])
        print(stored[0].id, flush=True)  # answered: from here on it must survive
    await asyncio.gather(*(one(i) for i in range(50_000)))

asyncio.run(main())
"""


@pytest.mark.sqlite_only("the SQLite WAL replayed after a kill -9 (PostgreSQL: tests/store/test_daemon_on_postgres.py)")
def test_answered_writes_survive_a_kill9_of_the_writer_process(tmp_path: Path) -> None:
    db = tmp_path / "hive.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    answered: list[int] = []
    for line in writer.stdout:  # the kill lands while tens of thousands of writes are still queued
        answered.append(int(line))
        if len(answered) == 2000:
            break
    writer.kill()
    writer.wait(10)
    answered += [int(line) for line in writer.stdout.read().split()]  # answers already in the pipe
    writer.stdout.close()
    assert len(answered) >= 2000
    conn = sqlite3.connect(db)  # reopening replays the WAL, as the restarted daemon's store would
    stored = {row[0] for row in conn.execute("SELECT id FROM messages")}
    assert not set(answered) - stored, f"{len(set(answered) - stored)} answered writes were lost"
    assert len(stored) < 50_000  # it really died mid-stream
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.sqlite_only("the SQLite writer thread's batch of jobs")
async def test_a_lone_failing_job_leaves_nothing_behind(tmp_path: Path,
                                                       traced: list[tuple[sqlite3.Connection, list[str]]]) -> None:
    """A batch of one job runs without a savepoint (one statement less each way): when it fails halfway, the
    transaction is rolled back, so nothing of it is committed, and the next write commits alone."""
    store = SQLiteStore(tmp_path / "hive.db")
    await store.open()

    def halfway(conn: sqlite3.Connection) -> None:
        insert_messages(conn, [NewMessage("a", "b", "half", time.time())])
        raise ValueError("broken after its insert")

    with pytest.raises(ValueError, match="broken after"):
        await store.db.write(halfway)
    await store.insert_messages([NewMessage("a", "b", "whole", time.time())])
    assert [m.body for m in await store.unacked_messages("b", 10)] == ["whole"]
    writer = traced[0][1]
    assert not [s for s in writer if s.startswith("SAVEPOINT")], "a lone job ran in a savepoint"
    await store.close()


@pytest.mark.sqlite_only("the SQLite writer thread's batch of jobs")
async def test_a_failing_send_in_a_batch_of_sends_fails_alone(
        tmp_path: Path, traced: list[tuple[sqlite3.Connection, list[str]]]) -> None:
    """Sends (replayable jobs) batch without savepoints; when one fails, the batch is rolled back and run
    again with a savepoint per job, so the others still commit, once."""
    store = SQLiteStore(tmp_path / "hive.db")
    await store.open()
    started, gate = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:  # the writer waits here while the batch is queued behind
        started.set()
        gate.wait(10)

    held = asyncio.ensure_future(store.db.write(hold))
    await asyncio.to_thread(started.wait, 10)
    now = time.time()
    sends = [store.insert_messages_now([NewMessage("a", "b", "first", now)]),
             store.insert_messages_now([NewMessage("a", None, "no recipient", now)]),  # type: ignore[arg-type]
             store.insert_messages_now([NewMessage("a", "b", "third", now)])]
    gate.set()
    await held
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert [m.body for m in await store.unacked_messages("b", 10)] == ["first", "third"]
    writer = traced[0][1]
    assert writer.count("ROLLBACK") == 1 and writer.count("SAVEPOINT job") == 3, writer[-20:]
    await store.close()


@pytest.mark.sqlite_only("the SQLite writer thread's batch of jobs")
async def test_one_failing_job_does_not_fail_its_batch(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "hive.db")
    await store.open()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    good = store.insert_messages([NewMessage("a", "b", "fine", time.time())])
    bad = store.db.write(broken)
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert isinstance(results[1], sqlite3.OperationalError)
    assert await store.count_unacked("b") == 1
    await store.close()
