"""Pick the store backend from the `database` setting (uvicorn's auto.py shape): empty is the embedded
SQLite file in the state dir; a postgresql:// URL is the database the nodes of one hive share."""

from __future__ import annotations

from pathlib import Path

from .base import Store, StoreError
from .sqlite import SQLiteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(database: str, sqlite_path: Path) -> Store:
    if not database:
        return SQLiteStore(sqlite_path)
    if database.startswith(POSTGRES_SCHEMES):
        try:
            from .postgres import PostgresStore  # the `postgres` extra: a one-host hive does not need it
        except ImportError as exc:
            raise StoreError(f"--database {database.split('://')[0]}://… needs psycopg: "
                             "pip install 'hyperhive[postgres]'") from exc
        return PostgresStore(database)
    raise StoreError(f"--database must be empty (SQLite) or a postgresql:// URL, not {database!r}")
