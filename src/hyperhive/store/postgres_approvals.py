"""PostgreSQL side of ApprovalStore (mixed into PostgresStore). Resolving is one conditional row update,
so two nodes approving and denying one id at once cannot both win. Approving also tells the node that carries
out the work (`pg_notify('hive_approved_work', node)` in the same transaction, Channel.APPROVED_WORK), which
then runs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Json

from ._pg_db import Conn, PostgresDatabase
from .approvals import ApprovalStore
from .base import StoreError
from .nodes import Channel
from .records import ApprovalRecord, ApprovalStatus


class PostgresApprovals(ApprovalStore):
    db: PostgresDatabase
    url: str

    async def add_approval(self, kind: str, agent: str, requested_by: str, *, commit_ref: str | None,
                           fetched_sha: str | None, description: str, payload: Mapping[str, object],
                           status: ApprovalStatus, at: float, note: str | None = None,
                           node: str | None = None) -> ApprovalRecord:
        resolved = None if status == "pending" else at

        async def insert(conn: Conn) -> ApprovalRecord:
            return await _one_approval(await conn.execute(
                "INSERT INTO approvals (kind, agent, requested_by, commit_ref, fetched_sha, description, payload, "
                "status, requested_at, resolved_at, note, done_at, node) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
                (kind, agent, requested_by, commit_ref, fetched_sha, description, Json(payload), status, at,
                 resolved, note, resolved, node)))

        return await self.db.write(insert)

    async def get_approval(self, approval_id: int) -> ApprovalRecord | None:
        async def select(conn: Conn) -> ApprovalRecord | None:
            row = await (await conn.execute("SELECT * FROM approvals WHERE id = %s", (approval_id,))).fetchone()
            return ApprovalRecord(**row) if row else None

        return await self.db.read(select)

    async def list_approvals(self, status: ApprovalStatus | None = None, kind: str | None = None,
                             agent: str | None = None, limit: int = 200) -> list[ApprovalRecord]:
        async def select(conn: Conn) -> list[ApprovalRecord]:
            rows = await (await conn.execute(
                "SELECT * FROM approvals WHERE (%(status)s::text IS NULL OR status = %(status)s) "
                "AND (%(kind)s::text IS NULL OR kind = %(kind)s) AND (%(agent)s::text IS NULL OR agent = %(agent)s) "
                "ORDER BY id DESC LIMIT %(limit)s",
                {"status": status, "kind": kind, "agent": agent, "limit": limit})).fetchall()
            return [ApprovalRecord(**row) for row in rows]

        return await self.db.read(select)

    async def resolve_approval(self, approval_id: int, status: ApprovalStatus, note: str | None, at: float,
                               *, done: bool = False) -> ApprovalRecord | None:
        async def update(conn: Conn) -> ApprovalRecord | None:
            row = await (await conn.execute(
                "UPDATE approvals SET status = %s, note = %s, resolved_at = %s, done_at = %s "
                "WHERE id = %s AND status = 'pending' RETURNING *",
                (status, note, at, at if done else None, approval_id))).fetchone()
            if row and status == "approved" and row["node"] is not None:
                await conn.execute("SELECT pg_notify(%s, %s)", (Channel.APPROVED_WORK.value, row["node"]))
            return ApprovalRecord(**row) if row else None

        return await self.db.write(update)

    async def finish_approval(self, approval_id: int, status: ApprovalStatus, note: str | None, at: float,
                              payload: Mapping[str, object] | None = None) -> ApprovalRecord:
        async def update(conn: Conn) -> ApprovalRecord:
            return await _one_approval(await conn.execute(
                "UPDATE approvals SET status = %s, note = %s, done_at = %s, payload = coalesce(%s, payload) "
                "WHERE id = %s RETURNING *",
                (status, note, at, Json(payload) if payload is not None else None, approval_id)), approval_id)

        return await self.db.write(update)

    async def update_approval(self, approval_id: int, *, payload: Mapping[str, object] | None = None,
                              fetched_sha: str | None = None) -> None:
        async def update(conn: Conn) -> None:
            await conn.execute(
                "UPDATE approvals SET payload = coalesce(%s, payload), fetched_sha = coalesce(%s, fetched_sha) "
                "WHERE id = %s", (Json(payload) if payload is not None else None, fetched_sha, approval_id))

        await self.db.write(update)

    async def put_approval_bundle(self, approval_id: int, sha: str, bundle: bytes) -> None:
        async def upsert(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO approval_bundles (approval_id, sha, bundle) VALUES (%s, %s, %s) "
                "ON CONFLICT (approval_id) DO UPDATE SET sha = excluded.sha, bundle = excluded.bundle",
                (approval_id, sha, bundle))

        await self.db.write(upsert)

    async def get_approval_bundle(self, approval_id: int) -> tuple[str, bytes] | None:
        async def select(conn: Conn) -> tuple[str, bytes] | None:
            row = await (await conn.execute("SELECT sha, bundle FROM approval_bundles WHERE approval_id = %s",
                                            (approval_id,))).fetchone()
            return (row["sha"], bytes(row["bundle"])) if row else None

        return await self.db.read(select)

    async def drop_approval_bundle(self, approval_id: int) -> None:
        async def delete(conn: Conn) -> None:
            await conn.execute("DELETE FROM approval_bundles WHERE approval_id = %s", (approval_id,))

        await self.db.write(delete)


async def _one_approval(cursor: Any, approval_id: int | None = None) -> ApprovalRecord:
    row = await cursor.fetchone()
    if row is None:
        raise StoreError(f"no approval #{approval_id}")
    return ApprovalRecord(**row)
