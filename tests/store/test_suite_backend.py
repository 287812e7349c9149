"""The suite's backend switch (HYPERHIVE_TEST_DATABASE): on the PostgreSQL run every hive a test starts is on
a database of its own on the suite's server, and the same state dir finds the same database again."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.support.hive import HiveProcess, settings_for
from tests.support.postgres import on_postgres


def test_every_hive_gets_the_runs_backend(short_tmp: Path) -> None:
    first, again, other = settings_for(short_tmp), settings_for(short_tmp), settings_for(short_tmp / "other")
    process = HiveProcess(short_tmp / "proc")
    if not on_postgres():
        assert (first.database, other.database, process.env["HYPERHIVE_DATABASE"]) == ("", "", "")
        return
    assert first.database.startswith("postgresql://") and first.database == again.database
    assert len({first.database, other.database, process.env["HYPERHIVE_DATABASE"]}) == 3
    with psycopg.connect(first.database) as conn:  # made from the migrated template: the schema is there
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() != (0,)
