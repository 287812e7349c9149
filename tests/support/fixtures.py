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
from .postgres import PostgresServer, SuiteDatabases, on_postgres, running_postgres

# The backends a test that names its backend runs on: both on the default (SQLite) run, which keeps a few
# tests on PostgreSQL in every run; only PostgreSQL on the PostgreSQL run (HYPERHIVE_TEST_DATABASE), where
# the SQLite side is the default run's.
BOTH_BACKENDS = ["postgres"] if on_postgres() else ["sqlite", "postgres"]


@pytest.fixture
async def hive(short_tmp: Path, request: pytest.FixtureRequest) -> AsyncIterator[Hive]:
    """An in-process hive serving real Unix sockets in a short temp dir, on the run's backend; a test
    module can parametrize it (`on_both_backends`) to run once more on a real PostgreSQL server."""
    overrides = {}
    if getattr(request, "param", "sqlite") == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        overrides["database"] = server.database_for(short_tmp)
    async with make_hive(settings_for(short_tmp, **overrides)) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run; each test takes a fresh database in it."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def _suite_postgres(request: pytest.FixtureRequest) -> Iterator[None]:
    """On a PostgreSQL run, the session's server is where every hive's database is made (settings_for)."""
    if not on_postgres():
        yield
        return
    SuiteDatabases.server = request.getfixturevalue("postgres_server")
    try:
        yield
    finally:
        SuiteDatabases.server = None


@pytest.fixture(autouse=True)
def _drop_test_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """On a PostgreSQL run, the databases made for a test's hives are dropped after it (hundreds of them
    would otherwise fill the disk of a long run)."""
    server = SuiteDatabases.server
    before = len(server.made) if server is not None else 0
    yield
    if server is not None and len(server.made) > before:
        server.drop_databases(server.made[before:])


def on_both_backends(metafunc: pytest.Metafunc) -> None:
    """`pytest_generate_tests = on_both_backends` in a test module runs each of its tests that uses `hive`
    on SQLite and on PostgreSQL (the store suite litestar-style, through the whole daemon)."""
    if "hive" in metafunc.fixturenames:
        metafunc.parametrize("hive", BOTH_BACKENDS, indirect=True)


@pytest.fixture
def hive_proc(short_tmp: Path) -> Iterator[HiveProcess]:
    """A real `hive-c0re` subprocess; its log is printed if the test fails."""
    proc = HiveProcess(short_tmp)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(params=BOTH_BACKENDS)
async def store(request: pytest.FixtureRequest, short_tmp: Path) -> AsyncIterator[Store]:
    """An open store on each backend (litestar's way with its channel backends): SQLite, and a fresh
    database on the real PostgreSQL server the suite starts itself."""
    if request.param == "sqlite":
        made: Store = SQLiteStore(short_tmp / "hive.db")
    else:
        from hyperhive.store.postgres import PostgresStore  # the `postgres` extra

        server: PostgresServer = request.getfixturevalue("postgres_server")
        made = PostgresStore(server.new_database())  # empty: the store's own migrations make the schema
    await made.open()
    try:
        yield made
    finally:
        await made.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test about SQLite itself (its file, pragmas, the "
                                       "embedded default); skipped on the PostgreSQL run with its reason")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not on_postgres():
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else marker.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))
