"""Events for the people in charge: the `notify` callable the services are handed (the hive's own
`notify` is this object), so none of them reaches for the whole hive to tell hm1nd and the operator."""

from __future__ import annotations

import json
from typing import overload

from hyperhive.broker import Broker
from hyperhive.protocol import MANAGER_NAME, OPERATOR, SYSTEM_SENDER
from hyperhive.store import EventRecord

from .events import EventLog, Payload, payload_dict
from .registry import AgentRegistry
from .speech import SpeechLimit


class Announcer:
    def __init__(self, events: EventLog, registry: AgentRegistry, broker: Broker, speech: SpeechLimit) -> None:
        self.events = events
        self.registry = registry
        self.broker = broker
        self.speech = speech

    @overload
    async def __call__(self, kind: str, agent: str | None, payload: Payload,
                       recipients: tuple[str, ...] = ..., *, caused_by: None = None) -> EventRecord: ...

    @overload
    async def __call__(self, kind: str, agent: str | None, payload: Payload,
                       recipients: tuple[str, ...] = ..., *, caused_by: str) -> EventRecord | None: ...

    async def __call__(self, kind: str, agent: str | None, payload: Payload,
                       recipients: tuple[str, ...] = (MANAGER_NAME, OPERATOR), *,
                       caused_by: str | None = None) -> EventRecord | None:
        """Store an event and put it in the inboxes of the manager and the operator (as mail from
        `system`, body: the event as JSON), so it wakes the manager like any message. `caused_by`: the
        agent whose report this is; its notifications are rate-limited (None when over its budget), and
        any text of its own must be in the payload as `agent_words(...)`."""
        if caused_by is not None and not self.speech.allow(caused_by):
            return None
        fields = payload_dict(payload)
        event = await self.events.append(kind, agent, fields)
        body = json.dumps({"event": kind, "agent": agent, **fields}, ensure_ascii=False)
        targets = [r for r in recipients if r == OPERATOR or self.registry.get(r) is not None]
        if targets:
            await self.broker.deliver(SYSTEM_SENDER, targets, body)
        return event
