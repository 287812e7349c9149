"""Both backends keep one schema history: a migration added for one is added for the other."""

from __future__ import annotations

import asyncio

from hyperhive.store.migrate import load_migrations
from tests.support.postgres import PostgresServer


def test_every_migration_exists_for_both_backends() -> None:
    sqlite = [(m.version, m.name) for m in load_migrations("sqlite")]
    postgres = [(m.version, m.name) for m in load_migrations("postgres")]
    assert sqlite == postgres, "write each migration for store/migrations/sqlite and store/migrations/postgres"


async def test_nodes_starting_at_once_migrate_one_database_once(postgres_server: PostgresServer) -> None:
    from hyperhive.store.postgres import PostgresStore

    url = postgres_server.new_database()
    stores = [PostgresStore(url) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))  # without the advisory lock, CREATE TABLE races
    try:
        rows = await stores[0].db.read(lambda conn: _versions(conn))
        assert rows == [m.version for m in load_migrations("postgres")]
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def _versions(conn: object) -> list[int]:
    cursor = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")  # type: ignore[attr-defined]
    return [row["version"] for row in await cursor.fetchall()]
