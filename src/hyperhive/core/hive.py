"""The hive: the daemon's parts, opened together and closed in reverse (starlette's lifespan shape)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol, overload

from hyperhive.broker import Broker
from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.clock import Clock, SystemClock
from hyperhive.images import ImageService
from hyperhive.images.approval import fail_interrupted_builds
from hyperhive.images.gc import ImageCollector
from hyperhive.protocol import MANAGER_NAME, OPERATOR, SYSTEM_SENDER, HiveError, StatusRow
from hyperhive.store import EventRecord, MessageRecord, Store
from hyperhive.store.auto import open_store
from hyperhive.store.nodes import Channel

from .agent_sockets import AgentSockets
from .approvals import Approvals
from .controls import Controls
from .deployments import Deployments
from .events import EventLog
from .gateway_wiring import HiveCeilings, make_gateway, make_loop_breaker
from .host_server import HostServer
from .image_usage import images_in_use
from .leadership import Leadership
from .nodes import Nodes
from .notify import Notifier
from .questions import Questions
from .recipients import ConfigRecipients
from .registry import AgentRegistry
from .reminders import Reminders
from .remote_verbs import NodeSupervisor, RemoteVerbs
from .retention import Retention
from .sandbox_spec import claude_bin
from .schedules import Schedules
from .speech import SpeechLimit
from .status import status_row
from .tool_prompts import ToolPrompts
from .turn_log import STATS_KIND

log = logging.getLogger(__name__)


class DashboardService(Protocol):
    """What the hive needs of its dashboard. The daemon (hyperhive.daemon) passes a factory for one, so
    core/ never imports web/ (agents install core without the web extra)."""

    port: int | None

    @property
    def url(self) -> str: ...

    @property
    def login_url(self) -> str: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


DashboardFactory = Callable[["Hive"], DashboardService]


class Hive:
    def __init__(self, settings: HiveSettings, store: Store | None = None, clock: Clock | None = None, *,
                 dashboard: DashboardFactory | None = None) -> None:
        self.settings = settings
        self.store: Store = store or open_store(settings.database, settings.db_path)
        self.registry = AgentRegistry(self.store)
        self.broker = Broker(self.store, self.registry)
        self.events = EventLog(self.store)
        self.controls = Controls()
        self.speech = SpeechLimit()
        self.reminders = Reminders(self)
        self.retention = Retention(self)
        self.leadership = Leadership(self.store, settings.node, duties=[self.retention], ttl=settings.node_timeout)
        self.questions = Questions(self)
        self.approvals = Approvals(self)
        self.schedules = Schedules(self)  # registers its approval kind
        self.deployments = Deployments(self)  # registers init_config, apply_commit, spawn
        self.images = ImageService(settings.state_dir, settings.runtime, claude_bin(settings))
        self.image_gc = ImageCollector(self.images, lambda: images_in_use(self))
        self.tool_prompts = ToolPrompts(self)  # registers tool_use
        self.supervisor = NodeSupervisor(self)  # another node's agent's verbs go to that node
        self.nodes = Nodes(self.store, self.registry, settings.node, settings.node_timeout)
        self.supervisor.remote = self.remote_verbs = RemoteVerbs(self.store, self.registry, self.nodes,
                                                                 settings.node_timeout)
        self.broker.policy = ConfigRecipients(self)
        self.agent_sockets = AgentSockets(self)
        self.host_server = HostServer(self)
        self.dashboard: DashboardService | None = None
        self._dashboard_factory = dashboard
        self._bootstrap: asyncio.Task[None] | None = None
        clock = clock or SystemClock()
        ceilings = HiveCeilings(settings.state_dir)
        self.gateway = make_gateway(self, clock, ceilings)
        self.loop_breaker = make_loop_breaker(self, clock, ceilings)
        self.notifier = Notifier(self, lambda: ceilings.policy().notify)
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
        # Mail other nodes commit for agents here wakes their readers, as local mail does; their beats, agent
        # rows and commands for this node are followed too (core/nodes.py, core/remote_verbs.py).
        await self.nodes.watch({Channel.MAIL: self.broker.inboxes.notify, **self.remote_verbs.handlers(),
                                Channel.APPROVALS: self.nodes.approval_news(self.approvals.follow)}, self._caught_up)
        await self.registry.load()
        for agent in self.registry.all():
            if agent.node is None:  # made before nodes existed: the node that opens the store first claims it
                await self.registry.update(agent.name, node=self.settings.node)
        await self.events.turns.load()
        self._stack.callback(self.registry.close)
        await self.deployments.load()
        self.image_gc.start()  # its first run marks what fell out of use; a timer does the rest
        self._stack.push_async_callback(self.image_gc.close)
        await self.reminders.start()  # what fell due while the daemon was down is delivered now, once
        self._stack.push_async_callback(self.reminders.close)
        await self.questions.start()
        self._stack.push_async_callback(self.questions.close)
        await self.schedules.start()
        self._stack.push_async_callback(self.schedules.close)
        self._stack.push_async_callback(self.retention.close)
        await self.leadership.start()  # the leading node (the only one on SQLite) runs retention
        self._stack.push_async_callback(self.leadership.close)
        await self.nodes.refresh()
        self.nodes.start()
        self._stack.push_async_callback(self.nodes.close)
        await self.supervisor.start()  # re-adopt agents an earlier daemon started
        self._stack.push_async_callback(self.supervisor.close)
        self.remote_verbs.serve(self.supervisor, self.approvals.run_here)
        self._stack.push_async_callback(self.remote_verbs.close)
        if self.settings.manager == "on" and self.registry.get(MANAGER_NAME) is None:
            self._bootstrap = asyncio.create_task(self._bootstrap_manager())
            self._stack.callback(self._bootstrap.cancel)
        for interrupted in await fail_interrupted_builds(self.store, self.settings.state_dir):
            await self.approvals.tell(interrupted)  # before the cards load: these never got one
        await self.approvals.start()  # approved work the last daemon did not finish resumes now
        self._stack.push_async_callback(self.approvals.close)
        self._stack.push_async_callback(self.notifier.close)
        await self.gateway.spend.load()
        self._stack.push_async_callback(self.gateway.spend.close)  # after the sockets: the last rows land
        self._stack.push_async_callback(self.gateway.close_all)
        await self.tool_prompts.start()
        self._stack.callback(self.tool_prompts.close)
        await self.agent_sockets.open_all()
        self._stack.push_async_callback(self.agent_sockets.close_all)
        await self.host_server.start()
        self._stack.push_async_callback(self.host_server.close)
        if self._dashboard_factory is not None and self.settings.dashboard != "off":
            self.dashboard = self._dashboard_factory(self)
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

    def _caught_up(self) -> None:
        """The listener (re)connected: re-read what other nodes may have told meanwhile."""
        self.broker.inboxes.notify_all()
        self.remote_verbs.caught_up()

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
        turn = self.gateway.spend.running_turn(name)
        return status_row(self.registry, self.registry.require(name), unread=unread,
                          url=self.agent_url(name), needs_update=bool(self.supervisor.outdated(name)),
                          pending_reminders=self.reminders.pending_count(name),
                          pending_approvals=self.approvals.pending_count(name),
                          isolated=self.supervisor.warning is None,
                          turns=self.events.turns.summary(name),
                          budget_exhausted=self.gateway.spend.exhausted(name) is not None,
                          turn_cost_usd=turn.cost_usd if turn is not None else None,
                          node_offline=self.nodes.offline(self.registry.require(name).node))

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

    # --- events for the people in charge ----------------------------------------------------------
    @overload
    async def notify(self, kind: str, agent: str | None, payload: dict[str, Any],
                     recipients: tuple[str, ...] = ..., *, caused_by: None = None) -> EventRecord: ...

    @overload
    async def notify(self, kind: str, agent: str | None, payload: dict[str, Any],
                     recipients: tuple[str, ...] = ..., *, caused_by: str) -> EventRecord | None: ...

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
