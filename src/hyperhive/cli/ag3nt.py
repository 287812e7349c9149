"""`hive-ag3nt`: the per-agent harness (turn loop, MCP tools, peer serve mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
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
@click.option("--turn-ledger", type=click.Path(dir_okay=False, path_type=Path), envvar="HYPERHIVE_TURN_LEDGER",
              default=None, help="Set by the harness: `recv` leaves mail unacked and records it here, for the "
                                 "harness to ack when the turn ends.")
def mcp(socket: Path, turn_ledger: Path | None) -> None:
    """Serve the hyperhive MCP tools on stdio, acting as the socket's agent (for `claude mcp add`)."""
    from hyperhive.agent.tools import serve_stdio

    asyncio.run(serve_stdio(socket, turn_ledger))


@main.command()
@socket_option
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), envvar="HYPERHIVE_AGENT_STATE",
              default=Path.cwd, help="The agent's persistent home (its cwd and Claude sessions).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              envvar="HYPERHIVE_AGENT_CONFIG", default=None, help="The agent's deployed agent.toml.")
@click.option("--claude", "claude_bin", envvar="HYPERHIVE_CLAUDE", default=None,
              help="The Claude Code CLI (default: `claude` on PATH).")
@click.option("--turn-timeout", type=float, envvar="HYPERHIVE_TURN_TIMEOUT", default=1800.0, show_default=True)
@click.option("--rate-limit-backoff", type=float, envvar="HYPERHIVE_RATE_LIMIT_BACKOFF", default=60.0,
              show_default=True, help="Seconds to wait after a rate limit whose error names no reset time.")
@click.option("--log-level", default="INFO", show_default=True)
def run(socket: Path, state_dir: Path, config_path: Path | None, claude_bin: str | None, turn_timeout: float,
        rate_limit_backoff: float, log_level: str) -> None:
    """Run the turn loop: one Claude Code turn per inbox message."""
    from hyperhive.agent.harness import run_harness
    from hyperhive.agent.loop import LoopTimings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    found = claude_bin or shutil.which("claude")
    if not found:
        raise click.ClickException("no Claude Code CLI: install @anthropic-ai/claude-code or pass --claude")
    timings = LoopTimings(turn_timeout=turn_timeout, rate_limit_backoff=rate_limit_backoff)
    state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_harness(socket, state_dir.absolute(), config_path, Path(found), dict(os.environ), timings))


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
    from hyperhive.agent.serve import PeerServe

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(PeerServe(socket, heartbeat, on_mail).run())


if __name__ == "__main__":
    main()
