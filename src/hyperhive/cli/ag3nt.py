"""`hive-ag3nt`: the per-agent harness (turn loop, MCP tools, peer serve mode)."""

from __future__ import annotations

import asyncio
import contextlib
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


@main.command()
@socket_option
@click.option("--heartbeat", type=float, default=15.0, show_default=True, envvar="HYPERHIVE_HEARTBEAT",
              help="Seconds between heartbeats (last_seen on the status row).")
@click.option("--on-mail", default=None, envvar="HYPERHIVE_ON_MAIL",
              help="Shell command run on each new message; gets HIVE_MAIL_ID, HIVE_MAIL_FROM, HIVE_MAIL_PREVIEW, "
                   "HIVE_MAIL_UNREAD in its environment.")
@click.option("--log-level", default="INFO", show_default=True)
def serve(socket: Path, heartbeat: float, on_mail: str | None, log_level: str) -> None:
    """Be a peer: keep presence in the hive (no turn loop); your own Claude Code uses `hive-ag3nt mcp`."""
    import logging

    from hyperhive.agent.serve import PeerServe

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(PeerServe(socket, heartbeat, on_mail).run())


if __name__ == "__main__":
    main()
