"""PostgreSQL plumbing: a pool of async connections, a transaction per write, migrations under a lock.

PostgreSQL does its own group commit (concurrent COMMITs share a WAL flush), so unlike the SQLite writer
there is no batching here: each write is one transaction on a pooled connection, and an answered write is
committed with the server's `synchronous_commit` (on by default: flushed to the WAL).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypedDict, TypeVar

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
# unacknowledged send after tcp_user_timeout and on a silent peer after the keepalive probes. Both ends:
# the libpq keywords set the node's socket; the same settings for the server's end of the session go in
# `options`, since a node cut off inside a transaction (between a lease UPDATE and its COMMIT) leaves the
# server a session holding row locks that, with the server's defaults (keepalive after 2 h), nothing ends.
# A client that is connected but stuck inside a transaction is ended by idle_in_transaction_session_timeout.
_KEEPALIVE_IDLE, _KEEPALIVE_INTERVAL, _KEEPALIVE_COUNT, _TCP_USER_TIMEOUT_MS = 5, 2, 3, 10_000
_SERVER_SIDE = {
    "tcp_keepalives_idle": _KEEPALIVE_IDLE, "tcp_keepalives_interval": _KEEPALIVE_INTERVAL,
    "tcp_keepalives_count": _KEEPALIVE_COUNT, "tcp_user_timeout": _TCP_USER_TIMEOUT_MS,
    "idle_in_transaction_session_timeout": 30_000,
}


class ConnectOptions(TypedDict):
    """The libpq keywords every connection of a node passes."""

    keepalives: int
    keepalives_idle: int
    keepalives_interval: int
    keepalives_count: int
    tcp_user_timeout: int
    connect_timeout: int
    application_name: str
    options: str


CONNECT_OPTIONS = ConnectOptions(
    keepalives=1, keepalives_idle=_KEEPALIVE_IDLE, keepalives_interval=_KEEPALIVE_INTERVAL,
    keepalives_count=_KEEPALIVE_COUNT, tcp_user_timeout=_TCP_USER_TIMEOUT_MS, connect_timeout=10,
    application_name="hyperhive",
    options=" ".join(f"-c {name}={value}" for name, value in _SERVER_SIDE.items()),
)


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
