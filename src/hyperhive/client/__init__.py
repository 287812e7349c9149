"""Clients of the hive's sockets (host.sock and an agent's mcp.sock)."""

from .aio import AsyncSocketClient, stream
from .errors import RequestFailed, Unreachable
from .sync import SocketClient

__all__ = ["AsyncSocketClient", "RequestFailed", "SocketClient", "Unreachable", "stream"]
