"""One suite for every store backend (litestar's way with its channel backends): each test here runs
against SQLite and against a real PostgreSQL server the suite starts itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hyperhive.store import Store
from hyperhive.store.sqlite import SQLiteStore
from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        made: Store = SQLiteStore(tmp_path / "hive.db")
    else:
        from hyperhive.store.postgres import PostgresStore

        server: PostgresServer = request.getfixturevalue("postgres_server")
        made = PostgresStore(server.new_database())
    await made.open()
    try:
        yield made
    finally:
        await made.close()
