"""hivectl's way into a running agent's sandbox: `shell NAME [-- CMD…]` and `login NAME`.

The daemon says how to enter (the `sandbox_shell` verb: nsenter into the sandbox's namespaces, capabilities
dropped); hivectl then becomes that command in this terminal, with the sandbox's environment read from
/proc (so the agent's secrets never cross host.sock). See core/sandbox_entry.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from hyperhive.protocol import ErrorCode, HiveError

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
LOGIN = ["claude", "auth", "login"]


def register(main: click.Group, pass_ctl: Decorator, command: Decorator) -> None:
    @main.command(context_settings={"ignore_unknown_options": True})
    @click.argument("name")
    @click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
    @pass_ctl
    @command
    def shell(ctl: Any, name: str, cmd: tuple[str, ...]) -> None:
        """A shell (or CMD, after `--`) inside NAME's running sandbox: its mounts, home, environment and
        processes. `claude` as CMD is the hive's Claude CLI on the agent's own config dir."""
        enter(ctl.call("sandbox_shell", name=name, command=list(cmd)))

    @main.command()
    @click.argument("name")
    @pass_ctl
    @command
    def login(ctl: Any, name: str) -> None:
        """Log NAME's Claude CLI in (a subscription's OAuth login, in this terminal, inside its sandbox with
        its own credentials). The agent notices the new credentials by itself and leaves needs_login."""
        click.echo(f"logging {name}'s Claude CLI in; it picks the credentials up by itself when done", err=True)
        enter(ctl.call("sandbox_shell", name=name, command=LOGIN, host_network=True))


def enter(entry: dict[str, Any]) -> NoReturn:
    env = {**environ_of(int(entry["pid"])), **entry["env"]}
    os.chdir(entry["cwd"])
    argv = [str(a) for a in entry["argv"]]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        raise HiveError(ErrorCode.UNAVAILABLE, f"cannot run {argv[0]}: {exc.strerror}") from None


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except PermissionError:
        raise HiveError(ErrorCode.NOT_ALLOWED, "entering a sandbox takes the rights of the hive's own user: "
                                               "run hivectl as that user (or root)") from None
    except OSError as exc:
        raise HiveError(ErrorCode.CONFLICT, f"the sandbox is gone ({exc.strerror}); is the agent running?") from None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {os.fsdecode(key): os.fsdecode(value) for key, value in pairs}
