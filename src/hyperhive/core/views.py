"""Store records → wire models."""

from __future__ import annotations

from hyperhive.protocol import Event, Message, rfc3339
from hyperhive.store import EventRecord, MessageRecord


def message_view(m: MessageRecord) -> Message:
    return Message(
        id=m.id,
        sender=m.sender,
        recipient=m.recipient,
        body=m.body,
        sent_at=rfc3339(m.sent_at) or "",
        delivered_at=rfc3339(m.delivered_at),
        acked_at=rfc3339(m.acked_at),
        in_reply_to=m.in_reply_to,
        broadcast=m.broadcast,
        dropped_at=rfc3339(m.dropped_at),
    )


def event_view(e: EventRecord) -> Event:
    return Event(seq=e.seq, at=rfc3339(e.at) or "", agent=e.agent, kind=e.kind, payload=e.payload)


def dump_messages(messages: list[MessageRecord]) -> list[dict[str, object]]:
    return [message_view(m).model_dump(mode="json") for m in messages]
