"""SQLite side of ApprovalStore (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from ._sqlite_db import SQLiteDatabase, Where
from .approvals import ApprovalStore
from .base import StoreError
from .records import ApprovalRecord, ApprovalStatus


class SQLiteApprovals(ApprovalStore):
    db: SQLiteDatabase

    async def add_approval(self, kind: str, agent: str, requested_by: str, *, commit_ref: str | None,
                           fetched_sha: str | None, description: str, payload: Mapping[str, object],
                           status: ApprovalStatus, at: float, note: str | None = None,
                           node: str | None = None) -> ApprovalRecord:
        resolved = None if status == "pending" else at

        def insert(conn: sqlite3.Connection) -> ApprovalRecord:
            cursor = conn.execute(
                "INSERT INTO approvals (kind, agent, requested_by, commit_ref, fetched_sha, description, payload, "
                "status, requested_at, resolved_at, note, done_at, node) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, agent, requested_by, commit_ref, fetched_sha, description, json.dumps(payload), status, at,
                 resolved, note, resolved, node),
            )
            assert cursor.lastrowid is not None
            return _approval(conn, cursor.lastrowid)

        return await self.db.write(insert)

    async def get_approval(self, approval_id: int) -> ApprovalRecord | None:
        def select(conn: sqlite3.Connection) -> ApprovalRecord | None:
            row = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            return _approval_row(row) if row else None

        return await self.db.read(select)

    async def list_approvals(self, status: ApprovalStatus | None = None, kind: str | None = None,
                             agent: str | None = None, limit: int = 200) -> list[ApprovalRecord]:
        def select(conn: sqlite3.Connection) -> list[ApprovalRecord]:
            where = Where()
            for column, value in (("status", status), ("kind", kind), ("agent", agent)):
                if value is not None:
                    where.add(f"{column} = ?", value)
            rows = conn.execute(f"SELECT * FROM approvals {where.sql} ORDER BY id DESC LIMIT ?", (*where.args, limit))
            return [_approval_row(row) for row in rows]

        return await self.db.read(select)

    async def resolve_approval(self, approval_id: int, status: ApprovalStatus, note: str | None, at: float,
                               *, done: bool = False) -> ApprovalRecord | None:
        def update(conn: sqlite3.Connection) -> ApprovalRecord | None:
            cursor = conn.execute(
                "UPDATE approvals SET status = ?, note = ?, resolved_at = ?, done_at = ? "
                "WHERE id = ? AND status = 'pending'", (status, note, at, at if done else None, approval_id))
            return _approval(conn, approval_id) if cursor.rowcount else None

        return await self.db.write(update)

    async def finish_approval(self, approval_id: int, status: ApprovalStatus, note: str | None, at: float,
                              payload: Mapping[str, object] | None = None) -> ApprovalRecord:
        def update(conn: sqlite3.Connection) -> ApprovalRecord:
            conn.execute("UPDATE approvals SET status = ?, note = ?, done_at = ? WHERE id = ?",
                         (status, note, at, approval_id))
            if payload is not None:
                conn.execute("UPDATE approvals SET payload = ? WHERE id = ?", (json.dumps(payload), approval_id))
            return _approval(conn, approval_id)

        return await self.db.write(update)

    async def update_approval(self, approval_id: int, *, payload: Mapping[str, object] | None = None,
                              fetched_sha: str | None = None) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if payload is not None:
                conn.execute("UPDATE approvals SET payload = ? WHERE id = ?", (json.dumps(payload), approval_id))
            if fetched_sha is not None:
                conn.execute("UPDATE approvals SET fetched_sha = ? WHERE id = ?", (fetched_sha, approval_id))

        await self.db.write(update)

    async def put_approval_bundle(self, approval_id: int, sha: str, bundle: bytes) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO approval_bundles (approval_id, sha, bundle) VALUES (?, ?, ?)",
            (approval_id, sha, bundle)))

    async def get_approval_bundle(self, approval_id: int) -> tuple[str, bytes] | None:
        def select(conn: sqlite3.Connection) -> tuple[str, bytes] | None:
            row = conn.execute("SELECT sha, bundle FROM approval_bundles WHERE approval_id = ?",
                               (approval_id,)).fetchone()
            return (row["sha"], bytes(row["bundle"])) if row else None

        return await self.db.read(select)

    async def drop_approval_bundle(self, approval_id: int) -> None:
        await self.db.write(lambda conn: conn.execute("DELETE FROM approval_bundles WHERE approval_id = ?",
                                                      (approval_id,)))


def _approval(conn: sqlite3.Connection, approval_id: int) -> ApprovalRecord:
    row = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
    if row is None:
        raise StoreError(f"no approval #{approval_id}")
    return _approval_row(row)


def _approval_row(row: sqlite3.Row) -> ApprovalRecord:
    values = dict(row)
    values["payload"] = json.loads(values["payload"])
    return ApprovalRecord(**values)
