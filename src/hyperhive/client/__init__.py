"""Clients of the hive's sockets (host.sock and an agent's mcp.sock)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .aio import AsyncSocketClient, stream
    from .errors import RequestFailed, Unreachable
    from .sync import SocketClient

__all__ = ["AsyncSocketClient", "RequestFailed", "SocketClient", "Unreachable", "stream"]
_MODULES = {"AsyncSocketClient": "aio", "stream": "aio", "RequestFailed": "errors", "Unreachable": "errors",
            "SocketClient": "sync"}

if not TYPE_CHECKING:  # for mypy the names are the imports above

    def __getattr__(name: str) -> object:
        """Import a name's module on first use: `hivectl` (the blocking client) then does not load asyncio."""
        if name in _MODULES:
            return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
