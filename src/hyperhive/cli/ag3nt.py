"""`hive-ag3nt`: the per-agent harness (turn loop, MCP tools, peer serve mode)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

DEFAULT_SOCKET = "/run/hive/mcp.sock"
socket_option = click.option(
    "--socket", type=click.Path(dir_okay=False, path_type=Path), envvar="HYPERHIVE_AGENT_SOCKET",
    default=DEFAULT_SOCKET, show_default=True, help="The agent's socket (its identity in the hive).")


@click.group()
def main() -> None:
    """hive-ag3nt: an agent's body — connects to the hive through its socket."""


@main.command()
@socket_option
def mcp(socket: Path) -> None:
    """Serve the hyperhive MCP tools on stdio, acting as the socket's agent (for `claude mcp add`)."""
    from hyperhive.agent.tools import serve_stdio

    asyncio.run(serve_stdio(socket))


if __name__ == "__main__":
    main()
