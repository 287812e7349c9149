"""The store's migrations and group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from hyperhive.store import NewMessage
from hyperhive.store.migrate import MigrationError, load_migrations, migrate_sqlite
from hyperhive.store.sqlite import SQLiteStore


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "hive.db", isolation_level=None)
    applied = migrate_sqlite(conn)
    assert applied == [m.version for m in load_migrations("sqlite")]
    assert migrate_sqlite(conn) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"agents", "messages", "events", "schema_migrations"} <= tables


def test_a_database_from_a_newer_hyperhive_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "hive.db", isolation_level=None)
    migrate_sqlite(conn)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    with pytest.raises(MigrationError, match="newer version"):
        migrate_sqlite(conn)


async def test_concurrent_writes_are_batched_and_all_durable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "hive.db")
    await store.open()
    sends = [store.insert_messages([NewMessage("a", "b", f"m{i}", time.time())]) for i in range(500)]
    stored = await asyncio.gather(*sends)
    await store.close()
    ids = [batch[0].id for batch in stored]
    assert len(set(ids)) == 500
    conn = sqlite3.connect(tmp_path / "hive.db")
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 500


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
