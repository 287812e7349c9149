"""The plumbing every host.sock command shares, whichever CLI it is added to (`hivectl`, or `hive-c0re`'s
admin verbs): the connection (`Ctl`, found through click's context), the group options that make it,
and one line plus an exit code for every hive error.

A command module defines its commands once with `@click.command()`, `@pass_ctl` and `@command`; each CLI
adds the same command objects to its group (`add_commands`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hyperhive.client import SocketClient
from hyperhive.config.settings import SETTINGS_BY_NAME, load_settings
from hyperhive.protocol import EXIT_CODES, HiveError

from ._options import setting_options

F = TypeVar("F", bound=Callable[..., Any])
# Lifecycle verbs wait for the daemon, which bounds them itself (an agent's stop timeout may be minutes).
NO_TIMEOUT: float | None = None


class Ctl:
    def __init__(self, prog: str, socket: Path, as_json: bool) -> None:
        self.prog = prog
        self.socket = socket
        self.client = SocketClient(socket)
        self.as_json = as_json

    def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        return self.client.request(cmd, **{k: v for k, v in fields.items() if v is not None})

    def call_waiting(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """A request that lasts as long as the daemon takes (a graceful stop waits for a running turn)."""
        client = SocketClient(self.socket, timeout=NO_TIMEOUT)
        return client.request(cmd, **{k: v for k, v in fields.items() if v is not None})


pass_ctl = click.make_pass_decorator(Ctl)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, named after the CLI that runs the command, and an exit code."""
    ctx = click.get_current_context(silent=True)
    ctl = ctx.find_object(Ctl) if ctx is not None else None
    click.echo(f"{ctl.prog if ctl else 'hivectl'}: {message}", err=True)
    sys.exit(code)


def command(fn: F) -> F:
    """Turn hive errors into one line and an exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HiveError as exc:
            fail(exc.message, EXIT_CODES.get(exc.code, 1))

    return wrapper  # type: ignore[return-value]  # wraps keeps the signature click reads


def client_options(fn: F) -> F:
    """--runtime-dir, --socket and --json: the options of a group whose commands speak host.sock."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")(fn)
    fn = click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="host.sock to talk to (default: <runtime-dir>/host.sock).")(fn)
    return setting_options("runtime_dir")(fn)


def make_ctl(prog: str, runtime_dir: str | None, socket_path: Path | None, as_json: bool) -> Ctl:
    return Ctl(prog, socket_path or host_socket(runtime_dir), as_json)


def host_socket(runtime_dir: str | None) -> Path:
    """The flag, then HYPERHIVE_RUNTIME_DIR; with neither, this user's hive, else the system service's
    (`hive-c0re run --system`) when only that one is there: the hive on this host, as the original's CLI."""
    if runtime_dir or os.environ.get(SETTINGS_BY_NAME["runtime_dir"].env):
        return load_settings({"runtime_dir": runtime_dir}).host_socket
    return pick_socket(load_settings().host_socket, load_settings(system=True).host_socket)


def pick_socket(mine: Path, system: Path) -> Path:
    return system if not mine.exists() and system.exists() else mine


def add_commands(group: click.Group, commands: Iterable[click.Command]) -> None:
    """Add shared command objects to a CLI's group under their own names."""
    for cmd in commands:
        group.add_command(cmd)
