"""Store records → wire models (protocol.models, protocol.replies): what verbs answer and pages show."""

from __future__ import annotations

from hyperhive.protocol import Event, Message, rfc3339
from hyperhive.protocol import replies as rp
from hyperhive.store import ApprovalRecord, EventRecord, MessageRecord, QuestionRecord, ReminderRecord, ScheduleRecord

from .approvals import approval_view
from .questions import question_view
from .schedules import schedule_view


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


def messages(found: list[MessageRecord]) -> list[Message]:
    return [message_view(m) for m in found]


def sent(stored: list[MessageRecord]) -> rp.Sent:
    """What `send` answers: the stored copies of one message (a broadcast stores one per recipient)."""
    return rp.Sent(id=stored[0].id, ids=[m.id for m in stored], recipients=[m.recipient for m in stored])


def dump_messages(found: list[MessageRecord]) -> list[dict[str, object]]:
    return [m.model_dump(mode="json") for m in messages(found)]


# The services build these models for their events too, so an event and a reply show an approval (question,
# schedule) alike.
approval = approval_view
question = question_view
schedule = schedule_view


def reminder(r: ReminderRecord) -> rp.Reminder:
    return rp.Reminder(id=r.id, agent=r.agent, body=r.body, due_at=rfc3339(r.due_at),
                       created_at=rfc3339(r.created_at))


# The replies of a verb that made or changed one record: what it answers, built in one place.
def approval_reply(a: ApprovalRecord) -> rp.ApprovalReply:
    return rp.ApprovalReply(approval=approval(a))


def question_reply(q: QuestionRecord) -> rp.QuestionReply:
    return rp.QuestionReply(question=question(q))


def reminder_reply(r: ReminderRecord) -> rp.ReminderReply:
    return rp.ReminderReply(reminder=reminder(r))


def schedule_reply(s: ScheduleRecord) -> rp.ScheduleReply:
    return rp.ScheduleReply(schedule=schedule(s))
