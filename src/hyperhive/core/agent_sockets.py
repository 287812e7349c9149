"""One socket per agent, `<runtime>/agents/<name>/mcp.sock`: the agent's only door to the hive.

The socket an agent connects through *is* its identity: the server for a socket knows whose it is, and
no request names its sender. The manager also gets `manager.sock` beside it for its extra verbs.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import Protocol

from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.server import Gateway
from hyperhive.protocol import MANAGER_NAME, check_agent_name
from hyperhive.runtime.identity import share_socket

from .lineserver import Connection, UnixLineServer
from .registry import AgentRegistry

log = logging.getLogger(__name__)
AGENT_SOCKET = "mcp.sock"
MANAGER_SOCKET = "manager.sock"


class Session(Protocol):
    """One connection's conversation with the hive (core/verbs/agent.py's AgentSession)."""

    async def handle(self, conn: Connection, obj: dict[str, object]) -> dict[str, object] | None: ...

    async def closed(self) -> None: ...


SessionFactory = Callable[[str, bool], Session]  # (agent name, on manager.sock) -> its session


class AgentSockets:
    def __init__(self, settings: HiveSettings, registry: AgentRegistry, gateway: Gateway,
                 session: SessionFactory) -> None:
        self.settings = settings
        self.registry = registry
        self.gateway = gateway
        self.session = session  # the verbs behind a socket: handed in, so the doors sit above the verbs
        self._servers: dict[str, list[UnixLineServer]] = {}

    async def open_all(self) -> None:
        for agent in self.registry.all():
            if agent.lifecycle != "destroyed":  # a tombstone has no door
                await self.open(agent.name)

    async def open(self, name: str) -> None:
        check_agent_name(name)
        if name in self._servers:
            return
        directory = self.settings.agent_socket_dir(name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        servers = [self._server(name, AGENT_SOCKET, manager=False)]
        if name == MANAGER_NAME:
            servers.append(self._server(name, MANAGER_SOCKET, manager=True))
        for server in servers:
            await server.start()
            share_socket(server.path, name)  # the agent runs under its own uid (runtime/identity.py)
        await self.gateway.open(name)  # api.sock beside mcp.sock: the agent's way to the Claude API
        self._servers[name] = servers

    async def close(self, name: str, *, remove_dir: bool = False) -> None:
        for server in self._servers.pop(name, []):
            await server.close()
        await self.gateway.close(name)
        if remove_dir:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(self.settings.agent_socket_dir(check_agent_name(name)))

    async def close_all(self) -> None:
        # Sockets stay on disk for a restart to rebind; agents reconnect to the same path.
        for name in list(self._servers):
            for server in self._servers.pop(name):
                await server.close(remove=False)

    def _server(self, name: str, filename: str, *, manager: bool) -> UnixLineServer:
        sessions: dict[int, Session] = {}

        def connect(conn: Connection) -> None:
            sessions[id(conn)] = self.session(name, manager)

        def handle(conn: Connection, obj: dict[str, object]) -> Awaitable[dict[str, object] | None]:
            return sessions[id(conn)].handle(conn, obj)  # the session's coroutine itself: no layer around it

        async def close(conn: Connection) -> None:
            session = sessions.pop(id(conn), None)
            if session:
                await session.closed()

        path = self.settings.agent_socket_dir(name) / filename
        return UnixLineServer(path, handle, mode=0o660, on_connect=connect, on_close=close)
