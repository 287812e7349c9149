"""Versioned schema migrations: `migrations/<backend>/NNNN_name.sql`, applied in order at start, each
in its own transaction, recorded in `schema_migrations`. A database newer than the code is refused."""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    folder = resources.files("hyperhive.store").joinpath("migrations", backend)
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations for {backend} are not numbered 1..n without gaps: {versions}")
    return found


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration the database lacks; return the versions applied now."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    migrations = load_migrations("sqlite")
    known = {m.version for m in migrations}
    if applied - known:
        raise MigrationError(
            f"the database has schema versions {sorted(applied - known)} that this hyperhive does not know: "
            "it was written by a newer version; upgrade hyperhive or use another state dir"
        )
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
        done.append(migration.version)
    return done


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own, breaking atomicity)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise MigrationError(f"incomplete statement at the end of a migration: {current.strip()[:80]!r}")
    return statements
