"""PostgreSQL plumbing: a pool of async connections, a transaction per write, migrations under a lock.

PostgreSQL does its own group commit (concurrent COMMITs share a WAL flush), so unlike the SQLite writer
there is no batching here: each write is one transaction on a pooled connection, and an answered write is
committed with the server's `synchronous_commit` (on by default: flushed to the WAL).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from .base import StoreUnavailable
from .migrate import MigrationError, load_migrations, split_statements

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = psycopg.AsyncConnection[DictRow]

# One number for every hyperhive node: nodes starting together migrate one after another.
_MIGRATION_LOCK = 0x6879_7065_7268_6976  # "hyperhiv"

# A half-open TCP session must not hold a lease or a lock for long: the kernel gives up on an
# unacknowledged send after tcp_user_timeout and on a silent peer after the keepalive probes.
CONNECT_OPTIONS: dict[str, Any] = {
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 10_000, "connect_timeout": 10, "application_name": "hyperhive",
}


class PostgresDatabase:
    def __init__(self, url: str, *, max_size: int = 8) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, check=AsyncConnectionPool.check_connection,
            # A request waits at most 5 s for a connection, then answers `unavailable`. The pool's own
            # reconnect backs off exponentially; giving that up after 3 s means the next request after the
            # database returns connects at once instead of waiting out a grown back-off.
            timeout=5, reconnect_timeout=3,
            kwargs={"autocommit": True, "row_factory": dict_row, **CONNECT_OPTIONS},
        )

    async def start(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        async with self.pool.connection() as conn:
            await migrate_postgres(conn)

    async def stop(self) -> None:
        await self.pool.close()

    async def write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `fn` in one transaction; it has committed when this returns."""
        try:
            async with self.pool.connection() as conn, conn.transaction():
                return await fn(conn)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the database is unreachable: {exc}".strip()) from exc

    async def read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        try:
            async with self.pool.connection() as conn:
                return await fn(conn)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the database is unreachable: {exc}".strip()) from exc


async def migrate_postgres(conn: Conn) -> list[int]:
    """Apply every migration the database lacks, each in its own transaction, under an advisory lock so
    that nodes starting at once do not race; return the versions applied now."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                           "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        applied = {row["version"] for row in await (await conn.execute("SELECT version FROM schema_migrations"))
                   .fetchall()}
        migrations = load_migrations("postgres")
        newer = applied - {m.version for m in migrations}
        if newer:
            raise MigrationError(
                f"the database has schema versions {sorted(newer)} that this hyperhive does not know: it was "
                "written by a newer version; upgrade hyperhive on every node")
        done = []
        for migration in migrations:
            if migration.version in applied:
                continue
            try:
                async with conn.transaction():
                    for statement in split_statements(migration.sql):
                        await conn.execute(statement)
                    await conn.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                                       "VALUES (%s, %s, extract(epoch from now()))",
                                       (migration.version, migration.name))
            except psycopg.Error as exc:
                raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
