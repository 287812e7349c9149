"""`hive-c0re`: the host daemon (`run`, or `serve` as the original called it), and the original's admin
verbs beside it (`register-peer`, `list`, `pending`, `approve`, …): the same command objects `hivectl`
has (_admin.ORIGINAL_VERBS), speaking host.sock to the running daemon."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from hyperhive.config.settings import load_settings
from hyperhive.core.lineserver import SocketInUse
from hyperhive.store import StoreError
from hyperhive.store.migrate import MigrationError

from ._admin import ORIGINAL_VERBS
from ._ctl import add_commands, client_options, make_ctl
from ._options import setting_options


@click.group()
@client_options
@click.pass_context
def main(ctx: click.Context, runtime_dir: str | None, socket_path: Path | None, as_json: bool) -> None:
    """hive-c0re: runs the hive (broker, agents, approvals, dashboard) on this host, and administers a
    running one (the options above are for those admin commands; `run` takes its own)."""
    ctx.obj = make_ctl("hive-c0re", runtime_dir, socket_path, as_json)


def _event_loop_run() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop's loop when installed (the daemon extra brings it): the broker's requests cost less CPU on it
    (docs/decisions.md); a bare install runs on asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


@main.command()
@setting_options()
@click.option("--system", is_flag=True, help="Use the system service dirs (/var/lib/hyperhive, /run/hyperhive).")
@click.option("--ready-fd", type=int, default=None, help="Write 'ready' to this file descriptor once serving.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.pass_context
def run(ctx: click.Context, /, system: bool, ready_fd: int | None, log_level: str, **overrides: Any) -> None:
    """Run the daemon in the foreground until SIGINT or SIGTERM (`serve` is the same command)."""
    from hyperhive.daemon import SettingsRefused, run_daemon

    if ctx.parent is not None:  # `hive-c0re --runtime-dir X run` means the same as `hive-c0re run --runtime-dir X`
        overrides["runtime_dir"] = overrides.get("runtime_dir") or ctx.parent.params.get("runtime_dir")

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(overrides, system=system)
    except ValueError as exc:  # a setting's value makes no sense: one sentence naming it
        raise click.ClickException(str(exc)) from None
    try:
        _event_loop_run()(run_daemon(settings, ready_fd))
    except (SocketInUse, MigrationError, StoreError, PermissionError) as exc:
        raise click.ClickException(str(exc)) from None
    except SettingsRefused as exc:
        raise _Refused(str(exc)) from None


class _Refused(click.ClickException):
    exit_code = 2  # the settings, not the host, are wrong


main.add_command(run, "serve")  # the original's name for it
add_commands(main, ORIGINAL_VERBS.values())

if __name__ == "__main__":
    main()
