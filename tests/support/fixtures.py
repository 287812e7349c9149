"""Hive fixtures for every test folder (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from hyperhive.daemon import make_hive
from hyperhive.store import Store
from hyperhive.store.sqlite import SQLiteStore

from .hive import HiveProcess, settings_for
from .postgres import PostgresServer, running_postgres


@pytest.fixture
async def hive(short_tmp: Path, request: pytest.FixtureRequest) -> AsyncIterator[Hive]:
    """An in-process hive serving real Unix sockets in a short temp dir. On SQLite, unless a test module
    parametrizes it (`on_both_backends`) to run once more on a real PostgreSQL server."""
    overrides = {}
    if getattr(request, "param", "sqlite") == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        overrides["database"] = server.new_database()
    async with make_hive(settings_for(short_tmp, **overrides)) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run; each test takes a fresh database in it."""
    with running_postgres() as server:
        yield server


def on_both_backends(metafunc: pytest.Metafunc) -> None:
    """`pytest_generate_tests = on_both_backends` in a test module runs each of its tests that uses `hive`
    on SQLite and on PostgreSQL (the store suite litestar-style, through the whole daemon)."""
    if "hive" in metafunc.fixturenames:
        metafunc.parametrize("hive", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def hive_proc(short_tmp: Path) -> Iterator[HiveProcess]:
    """A real `hive-c0re` subprocess; its log is printed if the test fails."""
    proc = HiveProcess(short_tmp)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, short_tmp: Path) -> AsyncIterator[Store]:
    """An open store on each backend (litestar's way with its channel backends): SQLite, and a fresh
    database on the real PostgreSQL server the suite starts itself."""
    if request.param == "sqlite":
        made: Store = SQLiteStore(short_tmp / "hive.db")
    else:
        from hyperhive.store.postgres import PostgresStore  # the `postgres` extra

        server: PostgresServer = request.getfixturevalue("postgres_server")
        made = PostgresStore(server.new_database())
    await made.open()
    try:
        yield made
    finally:
        await made.close()
