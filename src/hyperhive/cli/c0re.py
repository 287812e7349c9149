"""`hive-c0re`: the host daemon."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import click

from hyperhive.core.lineserver import SocketInUse
from hyperhive.core.settings import load_settings
from hyperhive.store.migrate import MigrationError

from ._options import setting_options


@click.group()
def main() -> None:
    """hive-c0re: runs the hive (broker, agents, approvals, dashboard) on this host."""


@main.command()
@setting_options()
@click.option("--system", is_flag=True, help="Use the system service dirs (/var/lib/hyperhive, /run/hyperhive).")
@click.option("--ready-fd", type=int, default=None, help="Write 'ready' to this file descriptor once serving.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def run(system: bool, ready_fd: int | None, log_level: str, **overrides: Any) -> None:
    """Run the daemon in the foreground until SIGINT or SIGTERM."""
    from hyperhive.core.daemon import SettingsRefused, run_daemon

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(overrides, system=system)
    try:
        asyncio.run(run_daemon(settings, ready_fd))
    except (SocketInUse, MigrationError, PermissionError) as exc:
        raise click.ClickException(str(exc)) from None
    except SettingsRefused as exc:
        raise _Refused(str(exc)) from None


class _Refused(click.ClickException):
    exit_code = 2  # the settings, not the host, are wrong


if __name__ == "__main__":
    main()
