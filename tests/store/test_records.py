"""Rows the store shares with the wire: the wire's keys, in the order its lines have always had them."""

from __future__ import annotations

from hyperhive.protocol import replies as rp
from hyperhive.protocol.models import Message
from hyperhive.store import MessageRecord, QuestionRecord, ReminderRecord
from hyperhive.store.usage import UsageTotal

MESSAGE_KEYS = ["id", "sender", "recipient", "body", "sent_at", "delivered_at", "acked_at", "in_reply_to",
                "broadcast", "dropped_at"]


def test_a_stored_message_has_the_wire_messages_keys_in_order() -> None:
    stored = MessageRecord(id=7, sender="a", recipient="b", body="hi", sent_at=1.5)
    assert list(stored.model_dump()) == MESSAGE_KEYS
    line = Message(id=7, sender="a", recipient="b", body="hi", sent_at="1970-01-01T00:00:01.500Z")
    assert list(line.model_dump(mode="json")) == MESSAGE_KEYS


def test_a_stored_reminder_starts_with_the_wire_reminders_keys() -> None:
    stored = ReminderRecord(id=1, agent="a", body="tick", due_at=2.0, created_at=1.0)
    assert list(rp.Reminder.model_fields) == ["id", "agent", "body", "due_at", "created_at"]
    assert list(stored.model_dump())[:5] == list(rp.Reminder.model_fields)


def test_a_stored_question_is_the_wire_question() -> None:
    asked = QuestionRecord(id=3, asker="a", target="operator", question="colour?", options=["red"], multi=False,
                           asked_at=1.0, expires_at=None)
    line = rp.QuestionReply(question=asked).wire()
    assert line == {"question": {"id": 3, "asker": "a", "target": "operator", "question": "colour?",
                                 "options": ["red"], "multi": False, "asked_at": 1.0, "expires_at": None,
                                 "status": "open", "answer": None, "answered_by": None, "answered_at": None}}
    assert list(line["question"]) == list(rp.Question.model_fields)


def test_a_usage_total_adds_up_its_tokens_before_its_cost() -> None:
    total = UsageTotal.of("a", 2, 100, 10, 1, 2, 0.5)
    assert total.model_dump() == {"key": "a", "calls": 2, "input_tokens": 100, "output_tokens": 10,
                                  "cache_read_tokens": 1, "cache_write_tokens": 2, "tokens": 113, "cost_usd": 0.5}
    assert list(total.model_dump()) == ["key", "calls", "input_tokens", "output_tokens", "cache_read_tokens",
                                        "cache_write_tokens", "tokens", "cost_usd"]
