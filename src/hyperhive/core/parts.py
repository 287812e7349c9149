"""The hive's parts: every service, each handed only the collaborators it uses, opened together and closed
in reverse (starlette's lifespan shape). This is what the verbs act on (core/verbs/*, the kill switch); the
doors that call the verbs (host.sock, the agents' sockets' sessions, the dashboard) are added above them,
in hive.py, so no service and no verb imports the module that imports the verbs."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import AsyncExitStack
from typing import Protocol

from hyperhive.broker import Broker
from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.clock import Clock, SystemClock
from hyperhive.images import ImageService
from hyperhive.images.approval import fail_interrupted_builds
from hyperhive.images.gc import ImageCollector
from hyperhive.protocol import MANAGER_NAME, HiveError, StatusRow, Urls
from hyperhive.store import EventRecord, MessageRecord, Store
from hyperhive.store.auto import open_store
from hyperhive.store.nodes import Channel

from .agent_sockets import AgentSockets, SessionFactory
from .announce import Announcer
from .approvals import Approvals
from .configs import AgentConfigs
from .controls import Controls
from .deployments import Deployments
from .events import EventLog
from .gateway_wiring import GatewayParts, HiveCeilings, make_gateway, make_loop_breaker
from .image_usage import ImageUsage
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


class HiveParts:
    def __init__(self, settings: HiveSettings, store: Store | None = None, clock: Clock | None = None, *,
                 agent_session: SessionFactory) -> None:
        self.settings = settings
        self.store: Store = store or open_store(settings.database, settings.db_path)
        self.registry = AgentRegistry(self.store)
        self.broker = Broker(self.store, self.registry)
        self.events = EventLog(self.store)
        self.controls = Controls()
        self.speech = SpeechLimit()
        self.notify = Announcer(self.events, self.registry, self.broker, self.speech)
        self.reminders = Reminders(self.store, self.registry, self.broker)
        self.retention = Retention(settings, self.store, self.events)
        self.leadership = Leadership(self.store, settings.node, duties=[self.retention], ttl=settings.node_timeout)
        self.questions = Questions(self.store, self.registry, self.broker, self.events)
        self.approvals = Approvals(self.store, self.registry, self.events, self.notify, settings.node)
        self.schedules = Schedules(self.store, self.registry, self.broker, self.approvals, self.events)
        self.configs = AgentConfigs(settings.state_dir, self.registry)
        self.images = ImageService(settings.state_dir, settings.runtime, claude_bin(settings))
        self.image_usage = ImageUsage(self.images, self.registry, self.configs, self.store)
        self.image_gc = ImageCollector(self.images, self.image_usage.in_use)
        clock = clock or SystemClock()
        ceilings = HiveCeilings(settings.state_dir)
        self.gateway = make_gateway(GatewayParts(settings, self.store, self.registry, self.events, self.controls,
                                                 self.notify, self.configs), clock, ceilings)
        self.loop_breaker = make_loop_breaker(self.registry, self.broker, self.notify, self.configs, clock, ceilings)
        self.agent_sockets = AgentSockets(settings, self.registry, self.gateway, agent_session)
        self.supervisor = NodeSupervisor(settings, self.store, self.registry, self.events, self.broker, self.notify,
                                     self.configs, self.images, self.gateway, self.agent_sockets)
        # another node's agent's verbs and approved work go to that node
        self.nodes = Nodes(self.store, self.registry, settings.node, settings.node_timeout)
        self.supervisor.remote = self.approvals.remote = self.remote_verbs = RemoteVerbs(
            self.store, self.registry, self.nodes, settings.node_timeout)
        self.deployments = Deployments(settings, self.store, self.registry, self.configs, self.approvals,
                                       self.supervisor, self.agent_sockets, self.images, self.gateway.spend,
                                       self.notify)
        self.tool_prompts = ToolPrompts(self.store, self.approvals, self.deployments, self.events)
        self.broker.policy = ConfigRecipients(self.configs.deployed)
        self.notifier = Notifier(self.events, self.broker, lambda: ceilings.policy().notify)
        self.dashboard: DashboardService | None = None
        self._bootstrap: asyncio.Task[None] | None = None
        self._stack = AsyncExitStack()
        self.broker.on_messages(self._messages_sent)
        self.broker.on_ack(self._messages_acked)
        self.events.listen(self._events_stored)

    async def start(self) -> None:
        """Open every service (the doors above open after them)."""
        for service in (self.schedules, self.deployments, self.tool_prompts):
            for kind, handlers in service.approval_kinds().items():
                self.approvals.register(kind, handlers)
        _make_dirs(self.settings)
        await self.store.open()
        self._stack.push_async_callback(self.store.close)
        # Mail other nodes commit for agents here wakes their readers, as local mail does; their beats, agent
        # rows and commands for this node are followed too (core/nodes.py, core/remote_verbs.py).
        await self.nodes.watch({Channel.MAIL: self.broker.inboxes.notify, **self.remote_verbs.handlers(),
                                Channel.APPROVALS: self.nodes.approval_news(self.approvals.follow),
                                Channel.APPROVED_WORK: self.approvals.told_approved}, self._caught_up)
        await self.registry.load()
        one_host = not self.settings.database  # SQLite: this node is the whole hive, whatever it was called
        for agent in self.registry.all():
            # made before nodes existed (the node that opens the store first claims it), or on a one-host hive
            # whose host was renamed: its agents are not on a node that is gone
            if agent.node is None or (one_host and agent.node != self.settings.node):
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
        self.approvals.catch_up()

    # --- status -----------------------------------------------------------------------------------
    async def status_rows(self, names: list[str] | None = None) -> list[StatusRow]:
        agents = [self.registry.require(n) for n in names] if names else self.registry.all()
        unread = await self.store.unacked_counts()
        # An agent removed while the counts were read has no row (rather than failing the whole answer).
        return [self._row(agent.name, unread.get(agent.name, 0)) for agent in agents
                if self.registry.get(agent.name) is not None]

    async def status_row(self, name: str) -> StatusRow | None:
        """None for an agent that is gone, also when it was removed while its unread count was read: a
        status stream then says "removed" instead of ending on an error."""
        if self.registry.get(name) is None:
            return None
        unread = await self.store.count_unacked(name)
        if self.registry.get(name) is None:
            return None
        return self._row(name, unread)

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

    def urls(self) -> Urls:
        home = self.dashboard_home()
        return Urls(domain=os.uname().nodename, home=home + "/" if home is not None else None, services={})

    # --- change announcements ---------------------------------------------------------------------
    def _messages_sent(self, messages: list[MessageRecord]) -> None:
        for recipient in {m.recipient for m in messages}:
            if self.registry.is_agent(recipient):
                self.registry.changes.counts_changed(recipient)

    def _events_stored(self, events: list[EventRecord]) -> None:
        for agent in {e.agent for e in events if e.kind == STATS_KIND and e.agent}:
            if self.registry.is_agent(agent):
                self.registry.changes.counts_changed(agent)  # its row's context size and cost moved

    def _messages_acked(self, recipient: str, ids: list[int]) -> None:
        if self.registry.is_agent(recipient):
            self.registry.changes.counts_changed(recipient)


def _make_dirs(settings: HiveSettings) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    (settings.runtime_dir / "agents").mkdir(exist_ok=True, mode=0o755)
