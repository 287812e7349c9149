"""In-process helpers for tests that talk to a `hive` fixture: a registered agent's socket client, and the
operator's host.sock (through a thread: the hive serves on the test's own event loop)."""

from __future__ import annotations

import asyncio
from typing import Any

from hyperhive.client import AsyncSocketClient, SocketClient
from hyperhive.core.hive import Hive
from hyperhive.store import AgentRecord


async def add_agent(hive: Hive, name: str) -> AsyncSocketClient:
    """Register a managed agent (nothing runs it) and open its socket; the client speaks as it."""
    await hive.registry.add(AgentRecord(name=name, kind="managed", created_at=0.0))
    await hive.agent_sockets.open(name)
    return AsyncSocketClient(hive.settings.agent_socket_dir(name) / "mcp.sock")


async def host(hive: Hive, cmd: str, **fields: Any) -> dict[str, Any]:
    return await asyncio.to_thread(SocketClient(hive.settings.host_socket).request, cmd, **fields)
