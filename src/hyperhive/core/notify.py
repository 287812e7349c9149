"""Telling the operator what needs a human: a question to the operator, an approval waiting,
`needs_login`, a failed agent, a spent budget, mail to the operator.

Each becomes one `notification` event (the dashboard turns it into a browser notification) and one POST
to every webhook in host.toml's `[notify]`, ntfy's way: the text as body, `Title` and `Priority` headers.
Deliveries run as tasks, retried with doubling back-off (timers, not a poll); the daemon never waits for a
webhook, and a dead one only costs a log line once its tries are used up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from hyperhive.broker import Broker
from hyperhive.config.host_policy import NotifyConfig
from hyperhive.protocol import OPERATOR, SYSTEM_SENDER
from hyperhive.store import EventRecord, MessageRecord

from .events import EventLog

log = logging.getLogger(__name__)
NOTIFICATION = "notification"
MAX_IN_FLIGHT = 200  # deliveries beyond this are dropped (and logged): a dead webhook must not grow memory
BODY_MAX = 2000


@dataclass(frozen=True)
class Notice:
    kind: str  # question | approval | needs_login | failed | budget_exhausted | mail
    title: str
    body: str
    priority: int  # ntfy's 1 (min) … 5 (max)
    agent: str | None


def notice_for_event(event: EventRecord) -> Notice | None:
    p, agent = event.payload, event.agent
    if event.kind == "question_asked" and p.get("target") == OPERATOR:
        return Notice("question", f"{p.get('asker')} asks you", str(p.get("question", "")), 4, agent)
    if event.kind == "approval_requested" and p.get("status") == "pending":
        what = f"{p.get('kind')} for {p.get('agent')}"
        return Notice("approval", f"approval #{p.get('id')} waiting: {what}", str(p.get("description") or what), 3,
                      agent)
    if event.kind == "needs_login":
        return Notice("needs_login", f"{agent} needs login", str(p.get("detail") or "log its Claude CLI in"), 4, agent)
    if event.kind == "agent_failed":
        return Notice("failed", f"{agent} failed", str(p.get("reason") or p.get("exit") or "it stopped restarting"),
                      5, agent)
    if event.kind == "budget_exhausted":
        return Notice("budget_exhausted", f"{agent}: budget exhausted", str(p.get("detail", "")), 4, agent)
    return None


def notice_for_message(message: MessageRecord) -> Notice | None:
    if message.recipient != OPERATOR or message.sender == SYSTEM_SENDER:  # system mail: its event notifies
        return None
    return Notice("mail", f"mail from {message.sender}", message.body, 3, message.sender)


class Notifier:
    def __init__(self, events: EventLog, broker: Broker, config: Callable[[], NotifyConfig]) -> None:
        self.events = events
        self.config = config
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self._tasks: set[asyncio.Task[None]] = set()
        events.listen(self._on_events)
        broker.on_messages(self._on_messages)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def settle(self) -> None:
        """Wait until every delivery in flight is done (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _on_events(self, events: list[EventRecord]) -> None:
        for event in events:
            notice = notice_for_event(event)
            if notice is not None:
                self._spawn(self._announce(notice))

    def _on_messages(self, messages: list[MessageRecord]) -> None:
        for message in messages:
            notice = notice_for_message(message)
            if notice is not None:
                self._spawn(self._announce(notice))

    async def _announce(self, notice: Notice) -> None:
        view = asdict(notice) | {"body": notice.body[:BODY_MAX]}
        await self.events.append(NOTIFICATION, notice.agent, view)
        config = self.config()
        for url in config.webhooks:
            self._spawn(self._post(url, notice, config))

    async def _post(self, url: str, notice: Notice, config: NotifyConfig) -> None:
        headers = {"Title": notice.title.encode("ascii", "replace").decode(), "Priority": str(notice.priority),
                   "Tags": notice.kind}
        delay = config.retry_seconds
        for attempt in range(1, config.attempts + 1):
            try:
                answer = await self._client.post(url, content=notice.body[:BODY_MAX].encode(), headers=headers)
                if answer.status_code < 400:
                    return
                if answer.status_code < 500 and answer.status_code not in (408, 429):
                    log.warning("webhook %s refused a %s notification: HTTP %s", url, notice.kind, answer.status_code)
                    return
                why = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                why = str(exc) or type(exc).__name__
            if attempt < config.attempts:
                await asyncio.sleep(delay)  # a back-off timer, not a poll
                delay *= 2
        log.warning("webhook %s: gave up on a %s notification after %d tries (%s)", url, notice.kind,
                    config.attempts, why)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if len(self._tasks) >= MAX_IN_FLIGHT:
            work.close()
            log.warning("notifications: %d deliveries in flight, one dropped", MAX_IN_FLIGHT)
            return
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
