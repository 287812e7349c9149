"""The plumbing every host.sock command shares, whichever CLI it is added to (`hivectl`, or `hive-c0re`'s
admin verbs): the connection (`Ctl`, found through click's context), the group options that make it,
and one line plus an exit code for every hive error.

A command module defines its commands once with `@click.command()`, `@pass_ctl` and `@command`; each CLI
adds the same command objects to its group (`add_commands`). A command calls a verb by its request model
(`ctl.verb(rq.Ping)`) and reads the verb's reply model back; `@face(rq.Ping)` records that the command is
that verb's face. A verb without a hand-made command gets one derived from its request model (`derived`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar, get_origin

import click

from hyperhive.client import SocketClient
from hyperhive.config.settings import SETTINGS_BY_NAME, load_settings
from hyperhive.protocol import EXIT_CODES, HiveError
from hyperhive.protocol.fields import Request
from hyperhive.protocol.replies import Reply

from ._options import setting_options
from ._output import emit_json

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R", bound=Reply)
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

    def verb(self, kind: type[Request[R]], *, waiting: bool = False, **fields: Any) -> R:
        """Call a verb by its request model and read its reply model back (fields left None are not sent, so
        the daemon's defaults apply). `waiting`: as long as the daemon takes (a graceful stop waits for a
        running turn)."""
        client = SocketClient(self.socket, timeout=NO_TIMEOUT) if waiting else self.client
        return client.verb(kind, **fields)


# The verbs that have a command of ours: hand-made (`@face`) or derived from the request model (`derived`).
CLI_FACES: dict[type[Request[Any]], str] = {}


def face(*verbs: type[Request[Any]]) -> Callable[[F], F]:
    """Record that the decorated command is the face of these verbs (the coverage test reads CLI_FACES)."""

    def mark(fn: F) -> F:
        for verb in verbs:
            CLI_FACES.setdefault(verb, fn.__name__.replace("_", "-"))
        return fn

    return mark


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


def one_call(name: str, verb: type[Request[R]], show: Callable[[R], tuple[object, str]],
             help_text: str) -> click.Command:
    """A command that calls a verb with no arguments and prints what `show` picks from its reply: the first for
    scripts (--json), the second for people."""

    @click.command(name, help=help_text)
    @pass_ctl
    @command
    @face(verb)
    def run(ctl: Ctl) -> None:
        for_scripts, for_people = show(ctl.verb(verb))
        emit_json(for_scripts) if ctl.as_json else click.echo(for_people)

    return run


def derived(kind: type[Request[Any]]) -> click.Command:
    """A command made from a request model, for a verb with no hand-made one: `hivectl loose-ends --agent
    bob`. Each field is an option (a list repeats it, a bool is a flag); the daemon checks the values, so its
    sentence is the error; the reply is printed as JSON."""
    name = kind.verb_name().replace("_", "-")

    @pass_ctl
    @command
    def run(ctl: Ctl, /, **options: Any) -> None:
        fields = {key: (list(value) or None) if isinstance(value, tuple) else value for key, value in options.items()}
        emit_json(kind.reply_model().model_validate(ctl.call(kind.verb_name(), **fields)).wire())

    params: list[click.Parameter] = []
    for field, info in kind.model_fields.items():
        if field in ("cmd", "req_id", "version"):
            continue
        flag = "--" + field.replace("_", "-")
        if info.annotation is bool:
            params.append(click.Option([f"{flag}/--no-{field.replace('_', '-')}", field], default=None))
        elif get_origin(info.annotation) is list:
            params.append(click.Option([flag, field], multiple=True))
        else:
            params.append(click.Option([flag, field], required=info.is_required()))
    CLI_FACES.setdefault(kind, name)
    return click.Command(name, callback=run, params=params, help=(kind.__doc__ or kind.verb_name()).split("\n")[0]
                         + " (derived from its request model; prints JSON)")


def add_derived(group: click.Group, verbs: Iterable[type[Request[Any]]]) -> None:
    """A derived command for each verb that should have one (`"cli"` in its faces) and has no command yet."""
    for kind in verbs:
        if "cli" in kind.faces and kind not in CLI_FACES:
            group.add_command(derived(kind))
