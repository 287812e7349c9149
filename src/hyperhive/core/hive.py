"""The hive: its parts (parts.py) with the doors that call the verbs on them: host.sock, each agent's
sockets' sessions, and the dashboard (built by the daemon's factory, so core/ never imports web/). Only
this module, above the verbs, puts the verbs and the parts together."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.clock import Clock
from hyperhive.store import Store

from .host_server import HostServer
from .parts import DashboardService, HiveParts
from .verbs.agent import AgentSession

log = logging.getLogger(__name__)

DashboardFactory = Callable[["Hive"], DashboardService]


class Hive(HiveParts):
    def __init__(self, settings: HiveSettings, store: Store | None = None, clock: Clock | None = None, *,
                 dashboard: DashboardFactory | None = None) -> None:
        super().__init__(settings, store, clock, agent_session=self._agent_session)
        self.host_server = HostServer(self)
        self._dashboard_factory = dashboard

    def _agent_session(self, name: str, manager: bool) -> AgentSession:
        return AgentSession(self, name, manager=manager)

    async def __aenter__(self) -> Hive:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await super().start()
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
