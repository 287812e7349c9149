"""Helpers for tests that talk to a hive: a registered agent's socket client, the
operator's host.sock (through a thread: the hive serves on the test's own event loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path
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


def harness_pids(name: str, state_dir: Path) -> list[int]:
    """Harness processes of one managed agent, found in /proc (a test has no other way to see them)."""
    needle = str(state_dir / "agents" / name / "state").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"hyperhive.cli.ag3nt\0run" in cmdline and needle in cmdline:
                found.append(int(entry.name))
    return sorted(found)
