"""Questions: an agent asks the operator (or another agent) and gets the answer as mail.

Only the one asked may answer; an operator question is answered only through host.sock or the dashboard,
never from an agent's socket. A question expires after its TTL (capped) with the answer `[expired]`; the
asker may cancel it (`[cancelled]`). Asking and answering carry an agent's text to another, so both keep to
the sender's allowed_recipients, as a send does. Closing a question and delivering the answer to the asker's inbox
(a `question_answered` event from `system`) is one transaction."""

from __future__ import annotations

import json
import time

from hyperhive.broker import Broker
from hyperhive.protocol import OPERATOR, SYSTEM_SENDER, ErrorCode, HiveError
from hyperhive.protocol.replies import Question
from hyperhive.store import NewMessage, QuestionRecord, QuestionStatus, Store

from .events import EventLog
from .recipients import require_may_send
from .registry import AgentRegistry
from .timers import DueTimers

MAX_TTL_SECONDS = 6 * 3600
EXPIRED = "[expired]"
CANCELLED = "[cancelled]"


def question_view(q: QuestionRecord) -> Question:
    """The wire's question: what replies answer and `question_*` events carry."""
    return Question(id=q.id, asker=q.asker, target=q.target, question=q.question, options=q.options, multi=q.multi,
                    asked_at=q.asked_at, expires_at=q.expires_at, status=q.status, answer=q.answer,
                    answered_by=q.answered_by, answered_at=q.answered_at)


class Questions:
    def __init__(self, store: Store, registry: AgentRegistry, broker: Broker, events: EventLog) -> None:
        self.store = store
        self.registry = registry
        self.broker = broker
        self.events = events
        self._expiry: DueTimers[int] = DueTimers(self._expire, "question")

    async def start(self) -> None:
        for q in await self.store.questions(status="open", limit=100_000):
            if q.expires_at is not None:
                self._expiry.arm(q.id, q.expires_at)

    async def close(self) -> None:
        await self._expiry.close()

    async def ask(self, asker: str, question: str, options: list[str], multi: bool, ttl_seconds: float | None,
                  to: str | None) -> QuestionRecord:
        target = to or OPERATOR
        if target != OPERATOR:
            self.registry.require(target)
            if target == asker:
                raise HiveError(ErrorCode.BAD_REQUEST, "a question to yourself is a note: write it down instead")
            require_may_send(self.broker, asker, target)  # a question carries the asker's text: a send's rule
        now = time.time()
        ttl = min(ttl_seconds or MAX_TTL_SECONDS, MAX_TTL_SECONDS)
        record = QuestionRecord(id=0, asker=asker, target=target, question=question, options=options,
                                multi=multi, asked_at=now, expires_at=now + ttl)

        def tell_target(q: QuestionRecord) -> NewMessage:
            body = json.dumps({"event": "question_asked", "id": q.id, "from": asker, "question": question,
                               "options": options, "multi": multi,
                               "how": "answer it with the answer tool: answer(id, answer)"}, ensure_ascii=False)
            return NewMessage(SYSTEM_SENDER, target, body, now)

        # An agent learns of its question by mail; the operator by the dashboard and hivectl.
        stored, message = await self.store.add_question(record, tell_target if target != OPERATOR else None)
        if message is not None:
            await self.broker.announce([message])
        self._expiry.arm(stored.id, stored.expires_at or now + ttl)
        await self.events.append("question_asked", asker, question_view(stored))
        return stored

    async def answer(self, question_id: int, answer: str, by: str) -> QuestionRecord:
        q = await self._open(question_id)
        if by != q.target:
            if q.target == OPERATOR:
                raise HiveError(ErrorCode.NOT_ALLOWED, f"question #{question_id} is for the operator: only the "
                                                       "operator answers it (dashboard or hivectl)")
            raise HiveError(ErrorCode.NOT_ALLOWED, f"question #{question_id} is for {q.target}, not {by}")
        if by != OPERATOR:
            require_may_send(self.broker, by, q.asker)  # the answer is the answerer's text in the asker's inbox
        return await self._close(q, "answered", answer, by)

    async def cancel(self, question_id: int, by: str | None) -> QuestionRecord:
        """`by`: the asker (from its socket), or None for the operator."""
        q = await self._open(question_id)
        if by is not None and by != q.asker:
            raise HiveError(ErrorCode.NOT_ALLOWED, f"only {q.asker}, who asked question #{question_id}, can cancel it")
        return await self._close(q, "cancelled", CANCELLED, by or OPERATOR)

    async def _expire(self, question_id: int) -> None:
        q = await self.store.get_question(question_id)
        if q is not None and q.status == "open":
            await self._close(q, "expired", EXPIRED, None)

    async def _open(self, question_id: int) -> QuestionRecord:
        q = await self.store.get_question(question_id)
        if q is None:
            raise HiveError(ErrorCode.NOT_FOUND, f"no question #{question_id}")
        if q.status != "open":
            raise HiveError(ErrorCode.CONFLICT, f"question #{question_id} is already {q.status}: {q.answer}")
        return q

    async def _close(self, q: QuestionRecord, status: QuestionStatus, answer: str, by: str | None) -> QuestionRecord:
        now = time.time()
        body = json.dumps({"event": "question_answered", "id": q.id, "question": q.question, "answer": answer,
                           "answered_by": by, "status": status}, ensure_ascii=False)
        closed = await self.store.close_question(q.id, status, answer, by, now,
                                                      NewMessage(SYSTEM_SENDER, q.asker, body, now))
        if closed is None:
            raise HiveError(ErrorCode.CONFLICT, f"question #{q.id} was closed meanwhile")
        record, message = closed
        self._expiry.disarm(q.id)
        await self.broker.announce([message])
        await self.events.append("question_answered", q.asker, question_view(record))
        return record
