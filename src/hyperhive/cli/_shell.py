"""hivectl's way into a running agent's sandbox: `shell NAME [-- CMD…]` and `login NAME`.

The daemon says how to enter (the `sandbox_shell` verb: nsenter into the sandbox's namespaces, capabilities
dropped); hivectl then becomes that command in this terminal, with the sandbox's environment read from
/proc (so the agent's secrets never cross host.sock). See core/sandbox_entry.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import click

from hyperhive.protocol import ErrorCode, HiveError
from hyperhive.protocol import host_requests as rq
from hyperhive.protocol.replies import SandboxEntry

from ._ctl import Ctl, command, face, pass_ctl

LOGIN = ["claude", "auth", "login"]


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
@pass_ctl
@command
@face(rq.SandboxShell)
def shell(ctl: Ctl, name: str, cmd: tuple[str, ...]) -> None:
    """A shell (or CMD, after `--`) inside NAME's running sandbox: its mounts, home, environment and
    processes. `claude` as CMD is the hive's Claude CLI on the agent's own config dir."""
    enter(ctl.verb(rq.SandboxShell, name=name, command=list(cmd)))


@click.command()
@click.argument("name")
@pass_ctl
@command
def login(ctl: Ctl, name: str) -> None:
    """Log NAME's Claude CLI in (a subscription's OAuth login, in this terminal, inside its sandbox with
    its own credentials). The agent notices the new credentials by itself and leaves needs_login."""
    click.echo(f"logging {name}'s Claude CLI in; it picks the credentials up by itself when done", err=True)
    enter(ctl.verb(rq.SandboxShell, name=name, command=LOGIN, host_network=True))


COMMANDS: tuple[click.Command, ...] = (shell, login)


def enter(entry: SandboxEntry) -> NoReturn:
    env = {**environ_of(entry.pid), **entry.env}
    os.chdir(entry.cwd)
    argv = list(entry.argv)
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
