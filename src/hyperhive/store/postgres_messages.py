"""Message rows written inside a PostgreSQL transaction that other tables' writes share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._pg_db import Conn
from .base import StoreError
from .records import MessageRecord, NewMessage

MAIL_CHANNEL = "hive_mail"  # payload: the recipient's name
MESSAGE_COLUMNS = "id, sender, recipient, body, sent_at, delivered_at, acked_at, in_reply_to, broadcast, dropped_at"


async def insert_messages(conn: Conn, messages: Sequence[NewMessage]) -> list[MessageRecord]:
    """Inside a write transaction; other tables' writes that deliver mail (reminders, answers) share it.
    The rows go in one pipelined `executemany` (one round trip), in order, so ids follow `messages`."""
    if not messages:
        return []
    stored = []
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO messages (sender, recipient, body, sent_at, in_reply_to, broadcast) "
            f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {MESSAGE_COLUMNS}",
            [(m.sender, m.recipient, m.body, m.sent_at, m.in_reply_to, m.broadcast) for m in messages],
            returning=True,
        )
        while True:
            stored.append(message_record(await cursor.fetchone()))
            if not cursor.nextset():
                break
    # Sent on COMMIT, to every node's listener; one per recipient however many messages it got.
    await conn.execute("SELECT pg_notify(%s, r) FROM unnest(%s::text[]) AS r",
                       (MAIL_CHANNEL, sorted({m.recipient for m in messages})))
    return stored


def message_record(row: dict[str, Any] | None) -> MessageRecord:
    if row is None:
        raise StoreError("the database returned no message row")
    return MessageRecord(**row)
