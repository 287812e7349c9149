"""The PostgreSQL backend of the Store: the hive's state shared by several nodes (psycopg 3, async)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Json

from ._pg_db import Conn, PostgresDatabase
from ._pg_listen import Listener
from ._shared import agent_insert
from .base import Store, StoreError
from .nodes import Channel, MailHolder
from .postgres_approvals import PostgresApprovals
from .postgres_loose_ends import PostgresLooseEnds
from .postgres_maintenance import PostgresMaintenance
from .postgres_messages import MAIL_CHANNEL, MESSAGE_COLUMNS, message_record
from .postgres_messages_batch import MailWriter
from .postgres_nodes import _NOW, PostgresNodes, notify
from .postgres_schedules import PostgresSchedules
from .postgres_usage import PostgresUsage
from .records import AGENT_MUTABLE_FIELDS, AgentRecord, EventRecord, MessageRecord, NewEvent, NewMessage


class PostgresStore(PostgresLooseEnds, PostgresApprovals, PostgresSchedules, PostgresMaintenance, PostgresUsage,
                    PostgresNodes, Store):
    def __init__(self, url: str) -> None:
        self.url = url
        self.db = PostgresDatabase(url)
        self.listener: Listener | None = None
        self.mail_writer = MailWriter(self.db)  # sends of concurrent requests share a commit

    async def open(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        await self.mail_writer.close()
        await self.db.stop()

    async def watch_mail(self, wake: Callable[[str], None], wake_all: Callable[[], None]) -> None:
        await self.watch({Channel(MAIL_CHANNEL): wake}, wake_all)

    async def watch(self, handlers: Mapping[Channel, Callable[[str], None]], caught_up: Callable[[], None]) -> None:
        async def reconnected() -> None:
            caught_up()  # the caller re-reads the store: covers what was told while disconnected

        def told(channel: str, payload: str) -> None:
            handlers[Channel(channel)](payload)

        self.listener = Listener(self.url, tuple(c.value for c in handlers), told, reconnected)
        self.listener.start()
        await self.listener.connected.wait()

    # --- agents -----------------------------------------------------------------------------------
    async def create_agent(self, agent: AgentRecord) -> None:
        async def insert(conn: Conn) -> None:
            try:
                await conn.execute(*agent_insert(agent, "%s"))
            except psycopg.errors.UniqueViolation:
                raise StoreError(f"an agent named {agent.name!r} already exists") from None
            await notify(conn, Channel.AGENTS, agent.name)  # the other nodes' registries learn of it

        await self.db.write(insert)

    async def get_agent(self, name: str) -> AgentRecord | None:
        async def select(conn: Conn) -> AgentRecord | None:
            row = await (await conn.execute("SELECT * FROM agents WHERE name = %s", (name,))).fetchone()
            return AgentRecord(**row) if row else None

        return await self.db.read(select)

    async def list_agents(self) -> list[AgentRecord]:
        async def select(conn: Conn) -> list[AgentRecord]:
            rows = await (await conn.execute("SELECT * FROM agents ORDER BY name")).fetchall()
            return [AgentRecord(**row) for row in rows]

        return await self.db.read(select)

    async def update_agent(self, name: str, **fields: Any) -> AgentRecord:
        unknown = set(fields) - AGENT_MUTABLE_FIELDS
        if unknown:
            raise ValueError(f"not mutable agent fields: {sorted(unknown)}")

        async def update(conn: Conn) -> AgentRecord:
            if fields:  # the keys are checked against AGENT_MUTABLE_FIELDS above: never agent-supplied text
                assignments = ", ".join(f"{key} = %s" for key in fields)
                await conn.execute(f"UPDATE agents SET {assignments} WHERE name = %s", (*fields.values(), name))
            row = await (await conn.execute("SELECT * FROM agents WHERE name = %s", (name,))).fetchone()
            if row is None:
                raise StoreError(f"no agent named {name!r}")
            await notify(conn, Channel.AGENTS, name)
            return AgentRecord(**row)

        return await self.db.write(update)

    async def delete_agent(self, name: str) -> None:
        async def delete(conn: Conn) -> None:
            await conn.execute("DELETE FROM agents WHERE name = %s", (name,))
            await notify(conn, Channel.AGENTS, name)

        await self.db.write(delete)

    # --- messages ---------------------------------------------------------------------------------
    async def insert_messages(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        return await self.mail_writer.insert(messages)

    async def get_message(self, message_id: int) -> MessageRecord | None:
        async def select(conn: Conn) -> MessageRecord | None:
            row = await (await conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = %s",
                                            (message_id,))).fetchone()
            return message_record(row) if row else None

        return await self.db.read(select)

    async def unacked_messages(
        self, recipient: str, limit: int, exclude_ids: Iterable[int] = ()
    ) -> list[MessageRecord]:
        args = {"to": recipient, "excluded": list(exclude_ids), "limit": limit, **_holder_args(self.mail_holder)}

        async def select(conn: Conn) -> list[MessageRecord]:
            rows = await (await conn.execute(  # in id order: mail leased elsewhere holds back what follows it
                f"SELECT {MESSAGE_COLUMNS}, {_LEASABLE} FROM messages WHERE recipient = %(to)s AND acked_at IS NULL "
                "AND NOT (id = ANY(%(excluded)s)) ORDER BY id LIMIT %(limit)s", args)).fetchall()
            taken = [row.pop("leasable") for row in rows]
            leased_elsewhere = taken.index(False) if False in taken else len(rows)
            return [message_record(row) for row in rows[:leased_elsewhere]]

        return await self.db.read(select)

    async def count_unacked(self, recipient: str) -> int:
        async def count(conn: Conn) -> int:
            row = await (await conn.execute(
                "SELECT count(*) AS n FROM messages WHERE recipient = %s AND acked_at IS NULL", (recipient,)
            )).fetchone()
            return int(row["n"]) if row else 0

        return await self.db.read(count)

    async def unacked_counts(self) -> dict[str, int]:
        async def count(conn: Conn) -> dict[str, int]:
            rows = await (await conn.execute(
                "SELECT recipient, count(*) AS n FROM messages WHERE acked_at IS NULL GROUP BY recipient"
            )).fetchall()
            return {row["recipient"]: int(row["n"]) for row in rows}

        return await self.db.read(count)

    async def mark_delivered(self, ids: Sequence[int], at: float) -> None:
        holder = self.mail_holder

        async def update(conn: Conn) -> None:
            await conn.execute("UPDATE messages SET delivered_at = %s WHERE id = ANY(%s) AND delivered_at IS NULL",
                               (at, list(ids)))
            if holder is not None:  # in hand now: leased to this node's incarnation, renewed by its beats
                await conn.execute(
                    f"UPDATE messages SET lease_owner = %(node)s, lease_epoch = %(epoch)s, "
                    f"lease_expires = {_NOW} + %(ttl)s WHERE id = ANY(%(ids)s) AND acked_at IS NULL",
                    {"ids": list(ids), **_holder_args(holder)})

        await self.db.write(update)

    async def ack_messages(self, recipient: str, ids: Sequence[int], at: float) -> list[int]:
        holder = _holder_args(self.mail_holder)

        async def update(conn: Conn) -> list[int]:
            # Mail leased to another node, or retaken by a later incarnation of this one, is not ours to ack;
            # mail an earlier (dead) incarnation held is, when this one read it and acks it at once (recv ack)
            rows = await (await conn.execute(
                "UPDATE messages SET acked_at = %(at)s, delivered_at = coalesce(delivered_at, %(at)s) "
                "WHERE id = ANY(%(ids)s) AND recipient = %(to)s AND acked_at IS NULL AND (lease_owner IS NULL "
                "OR %(node)s::text IS NULL OR (lease_owner = %(node)s AND lease_epoch <= %(epoch)s)) RETURNING id",
                {"at": at, "ids": list(ids), "to": recipient, **holder})).fetchall()
            acked = {row["id"] for row in rows}
            return [i for i in ids if i in acked]  # in the caller's order, as the SQLite backend answers

        return await self.db.write(update)

    async def recent_messages(
        self, limit: int, before_id: int | None = None, involving: str | None = None
    ) -> list[MessageRecord]:
        async def select(conn: Conn) -> list[MessageRecord]:
            rows = await (await conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE (%(before)s::bigint IS NULL OR id < %(before)s) "
                "AND (%(who)s::text IS NULL OR sender = %(who)s OR recipient = %(who)s) "
                "ORDER BY id DESC LIMIT %(limit)s", {"before": before_id, "who": involving, "limit": limit}
            )).fetchall()
            return [message_record(row) for row in rows]

        return await self.db.read(select)

    async def inbox_messages(self, recipient: str, limit: int, unread_only: bool) -> list[MessageRecord]:
        async def select(conn: Conn) -> list[MessageRecord]:
            rows = await (await conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE recipient = %s "
                "AND (NOT %s OR acked_at IS NULL) ORDER BY id DESC LIMIT %s", (recipient, unread_only, limit)
            )).fetchall()
            return [message_record(row) for row in rows]

        return await self.db.read(select)

    # --- events -----------------------------------------------------------------------------------
    async def append_events(self, events: Sequence[NewEvent]) -> list[EventRecord]:
        async def insert(conn: Conn) -> list[EventRecord]:
            stored = []
            for e in events:
                at = e.at if e.at is not None else time.time()
                row = await (await conn.execute(
                    "INSERT INTO events (at, agent, kind, payload) VALUES (%s, %s, %s, %s) RETURNING seq",
                    (at, e.agent, e.kind, Json(e.payload)))).fetchone()
                if row is None:
                    raise StoreError("the database returned no event row")
                stored.append(EventRecord(row["seq"], at, e.agent, e.kind, e.payload))
                if e.kind in APPROVAL_EVENTS:  # the other nodes keep one queue of approvals with this node
                    await notify(conn, Channel.APPROVALS, json.dumps(
                        {"id": e.payload.get("id"), "agent": e.agent, "status": e.payload.get("status")}))
            return stored

        return await self.db.write(insert)

    async def events_after(
        self, after_seq: int, agent: str | None = None, kinds: Sequence[str] | None = None, limit: int = 200
    ) -> list[EventRecord]:
        async def select(conn: Conn) -> list[EventRecord]:
            rows = await (await conn.execute(
                f"SELECT seq, at, agent, kind, payload FROM events WHERE seq > %(seq)s AND {_EVENT_FILTER} "
                "ORDER BY seq LIMIT %(limit)s", {"seq": after_seq, **_event_args(agent, kinds), "limit": limit}
            )).fetchall()
            return [EventRecord(**row) for row in rows]

        return await self.db.read(select)

    async def events_before(
        self, before_seq: int | None, agent: str | None = None, kinds: Sequence[str] | None = None, limit: int = 200
    ) -> list[EventRecord]:
        async def select(conn: Conn) -> list[EventRecord]:
            rows = await (await conn.execute(
                "SELECT seq, at, agent, kind, payload FROM events "
                f"WHERE (%(seq)s::bigint IS NULL OR seq < %(seq)s) AND {_EVENT_FILTER} "
                "ORDER BY seq DESC LIMIT %(limit)s", {"seq": before_seq, **_event_args(agent, kinds), "limit": limit}
            )).fetchall()
            return [EventRecord(**row) for row in reversed(rows)]

        return await self.db.read(select)

    async def max_event_seq(self) -> int:
        async def select(conn: Conn) -> int:
            row = await (await conn.execute("SELECT coalesce(max(seq), 0) AS seq FROM events")).fetchone()
            return int(row["seq"]) if row else 0

        return await self.db.read(select)

    async def prune_events(self, agent: str, kind_prefix: str, keep: int) -> int:
        async def delete(conn: Conn) -> int:
            cursor = await conn.execute(
                "DELETE FROM events WHERE agent = %(agent)s AND starts_with(kind, %(prefix)s) AND seq NOT IN "
                "(SELECT seq FROM events WHERE agent = %(agent)s AND starts_with(kind, %(prefix)s) "
                "ORDER BY seq DESC LIMIT %(keep)s)", {"agent": agent, "prefix": kind_prefix, "keep": keep})
            return cursor.rowcount

        return await self.db.write(delete)


# The events that show an approval to the operator or resolve it (core/approvals.py)
APPROVAL_EVENTS = frozenset({"approval_requested", "approval_updated"})

# Mail a reader may take: not leased, leased to this node (any incarnation: an earlier one is dead, since a
# node runs once), or a lease that expired. Selected as a column so that a message leased elsewhere stops the
# batch there: per-agent order holds.
_LEASABLE = ("(%(node)s::text IS NULL OR lease_owner IS NULL OR lease_owner = %(node)s "
             f"OR lease_expires <= {_NOW}) AS leasable")


def _holder_args(holder: MailHolder | None) -> dict[str, object]:
    if holder is None:
        return {"node": None, "epoch": None, "ttl": None}
    return {"node": holder.node, "epoch": holder.epoch, "ttl": holder.ttl}


# One filter for both event queries: an absent agent or kind list matches everything.
_EVENT_FILTER = ("(%(agent)s::text IS NULL OR agent = %(agent)s) "
                 "AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s))")


def _event_args(agent: str | None, kinds: Sequence[str] | None) -> dict[str, object]:
    return {"agent": agent, "kinds": list(kinds) if kinds else None}
