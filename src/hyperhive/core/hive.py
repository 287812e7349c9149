"""The hive: the daemon's parts, opened together and closed in reverse (starlette's lifespan shape)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from hyperhive.broker import Broker
from hyperhive.protocol import MANAGER_NAME, OPERATOR, SYSTEM_SENDER, HiveError, StatusRow
from hyperhive.store import EventRecord, MessageRecord, Store
from hyperhive.store.auto import open_store

from .agent_sockets import AgentSockets
from .api_proxy import ApiProxy
from .approvals import Approvals
from .controls import Controls
from .deployments import Deployments
from .events import EventLog
from .host_server import HostServer
from .questions import Questions
from .recipients import ConfigRecipients
from .registry import AgentRegistry
from .reminders import Reminders
from .retention import Retention
from .schedules import Schedules
from .settings import HiveSettings
from .speech import SpeechLimit
from .status import status_row
from .supervisor import Supervisor
from .tool_prompts import ToolPrompts
from .turn_log import STATS_KIND

if TYPE_CHECKING:
    from hyperhive.web.server import DashboardServer

log = logging.getLogger(__name__)


class Hive:
    def __init__(self, settings: HiveSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.store: Store = store or open_store(settings.database, settings.db_path)
        self.registry = AgentRegistry(self.store)
        self.broker = Broker(self.store, self.registry)
        self.events = EventLog(self.store)
        self.controls = Controls()
        self.speech = SpeechLimit()
        self.reminders = Reminders(self)
        self.retention = Retention(self)
        self.questions = Questions(self)
        self.approvals = Approvals(self)
        self.schedules = Schedules(self)  # registers its approval kind
        self.deployments = Deployments(self)  # registers init_config, apply_commit, spawn
        self.tool_prompts = ToolPrompts(self)  # registers tool_use
        self.supervisor = Supervisor(self)
        self.broker.policy = ConfigRecipients(self)
        self.agent_sockets = AgentSockets(self)
        self.host_server = HostServer(self)
        self.dashboard: DashboardServer | None = None
        self._bootstrap: asyncio.Task[None] | None = None
        self.api_proxy: ApiProxy | None = None
        self._stack = AsyncExitStack()
        self.broker.on_messages(self._messages_sent)
        self.broker.on_ack(self._messages_acked)
        self.events.listen(self._events_stored)

    async def __aenter__(self) -> Hive:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        _make_dirs(self.settings)
        await self.store.open()
        self._stack.push_async_callback(self.store.close)
        # Mail other nodes commit for agents here wakes their readers, as local mail does.
        await self.store.watch_mail(self.broker.inboxes.notify, self.broker.inboxes.notify_all)
        await self.registry.load()
        await self.events.turns.load()
        self._stack.callback(self.registry.close)
        await self.deployments.load()
        await self.reminders.start()  # what fell due while the daemon was down is delivered now, once
        self._stack.push_async_callback(self.reminders.close)
        await self.questions.start()
        self._stack.push_async_callback(self.questions.close)
        await self.schedules.start()
        self._stack.push_async_callback(self.schedules.close)
        await self.retention.start()
        self._stack.push_async_callback(self.retention.close)
        await self.supervisor.start()  # re-adopt agents an earlier daemon started
        self._stack.push_async_callback(self.supervisor.close)
        if self.settings.manager == "on" and self.registry.get(MANAGER_NAME) is None:
            self._bootstrap = asyncio.create_task(self._bootstrap_manager())
            self._stack.callback(self._bootstrap.cancel)
        await self.approvals.start()  # approved work the last daemon did not finish resumes now
        self._stack.push_async_callback(self.approvals.close)
        await self.tool_prompts.start()
        self._stack.callback(self.tool_prompts.close)
        await self.agent_sockets.open_all()
        self._stack.push_async_callback(self.agent_sockets.close_all)
        await self.host_server.start()
        self._stack.push_async_callback(self.host_server.close)
        if "ANTHROPIC_UNIX_SOCKET" not in os.environ:
            self.api_proxy = ApiProxy(self.settings.runtime_dir, os.environ)
            await self.api_proxy.start()
            self._stack.push_async_callback(self.api_proxy.close)
        if self.settings.dashboard != "off":
            from hyperhive.web.server import DashboardServer  # the daemon extra; agents never import it

            self.dashboard = DashboardServer(self)
            await self.dashboard.start()
            self._stack.push_async_callback(self.dashboard.close)
            log.info("dashboard: %s", self.dashboard.url)
        log.info("hive-c0re ready: %s, %d agents", self.settings.host_socket, len(self.registry.all()))

    async def _bootstrap_manager(self) -> None:
        """hm1nd from its built-in config on first start: the one agent whose creation needs no approval."""
        try:
            await self.deployments.spawn_now(MANAGER_NAME, "", None)
            log.info("hm1nd, the manager, is running")
        except HiveError as exc:
            log.error("hm1nd could not be started: %s", exc.message)

    async def stop(self) -> None:
        await self._stack.aclose()

    # --- status -----------------------------------------------------------------------------------
    async def status_rows(self, names: list[str] | None = None) -> list[StatusRow]:
        agents = [self.registry.require(n) for n in names] if names else self.registry.all()
        unread = await self.store.unacked_counts()
        return [self._row(agent.name, unread.get(agent.name, 0)) for agent in agents]

    async def status_row(self, name: str) -> StatusRow | None:
        if self.registry.get(name) is None:
            return None
        return self._row(name, await self.store.count_unacked(name))

    def _row(self, name: str, unread: int) -> StatusRow:
        return status_row(self.registry, self.registry.require(name), unread=unread,
                          url=self.agent_url(name), needs_update=bool(self.supervisor.outdated(name)),
                          pending_reminders=self.reminders.pending_count(name),
                          pending_approvals=self.approvals.pending_count(name),
                          isolated=self.supervisor.warning is None,
                          turns=self.events.turns.summary(name))

    def dashboard_home(self) -> str | None:
        """The dashboard's address once it is serving; None when it is off or not up yet."""
        if self.dashboard is None or self.dashboard.port is None:
            return None
        return self.dashboard.url

    def agent_url(self, name: str) -> str | None:
        home = self.dashboard_home()
        return f"{home}/agents/{name}" if home is not None else None

    def urls(self) -> dict[str, Any]:
        home = self.dashboard_home()
        return {"domain": os.uname().nodename, "home": home + "/" if home is not None else None, "services": {}}

    def is_manager(self, name: str) -> bool:
        return name == MANAGER_NAME

    # --- events for the people in charge ----------------------------------------------------------
    async def notify(self, kind: str, agent: str | None, payload: dict[str, Any],
                     recipients: tuple[str, ...] = (MANAGER_NAME, OPERATOR), *,
                     caused_by: str | None = None) -> EventRecord | None:
        """Store an event and put it in the inboxes of the manager and the operator (as mail from
        `system`, body: the event as JSON), so it wakes the manager like any message. `caused_by`: the
        agent whose report this is; its notifications are rate-limited (None when over its budget), and
        any text of its own must be in the payload as `agent_words(...)`."""
        if caused_by is not None and not self.speech.allow(caused_by):
            return None
        event = await self.events.append(kind, agent, payload)
        body = json.dumps({"event": kind, "agent": agent, **payload}, ensure_ascii=False)
        targets = [r for r in recipients if r == OPERATOR or self.registry.get(r) is not None]
        if targets:
            await self.broker.deliver(SYSTEM_SENDER, targets, body)
        return event

    # --- change announcements ---------------------------------------------------------------------
    def _messages_sent(self, messages: list[MessageRecord]) -> None:
        for recipient in {m.recipient for m in messages}:
            if self.registry.is_agent(recipient):
                self.registry.changes.changed(recipient)

    def _events_stored(self, events: list[EventRecord]) -> None:
        for agent in {e.agent for e in events if e.kind == STATS_KIND and e.agent}:
            if self.registry.is_agent(agent):
                self.registry.changes.changed(agent)  # its row's context size and cost moved

    def _messages_acked(self, recipient: str, ids: list[int]) -> None:
        if self.registry.is_agent(recipient):
            self.registry.changes.changed(recipient)


def _make_dirs(settings: HiveSettings) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    (settings.runtime_dir / "agents").mkdir(exist_ok=True, mode=0o755)
