"""hivectl's lifecycle commands: spawn, start, stop, restart, kill, rebuild, destroy, revive.

Scoped commands take agent names or `--all`; neither is an error (the original took an empty scope as
"everything")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from ._output import emit_json

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def register(main: click.Group, pass_ctl: Decorator, command: Decorator, fail: Callable[[str, int], NoReturn]) -> None:
    def scope(names: tuple[str, ...], every: bool) -> dict[str, Any]:
        if every and names:
            fail("name agents or say --all, not both", 2)
        if not every and not names:
            fail("name the agents to act on, or say --all (an empty scope is never 'everything')", 2)
        return {"all": True} if every else {"agent_names": list(names)}

    def report(ctl: Any, verb: str, rows: list[dict[str, Any]]) -> None:
        if ctl.as_json:
            emit_json(rows)
            return
        for row in rows:
            click.echo(f"{row['name']}: {row['state']}")

    def scoped(name: str, verb: str, help_text: str) -> None:
        @main.command(name, help=help_text)
        @click.argument("names", nargs=-1)
        @click.option("--all", "every", is_flag=True, help="Every managed agent.")
        @pass_ctl
        @command
        def act(ctl: Any, names: tuple[str, ...], every: bool, **flags: bool) -> None:
            report(ctl, verb, ctl.call(verb, **scope(names, every), **flags)["agent_statuses"])

    scoped("start", "start", "Start agents.")
    scoped("stop", "stop", "Stop agents gracefully (the running turn may finish, within the stop timeout).")
    scoped("restart", "restart", "Restart agents.")
    scoped("kill", "kill", "Kill agents now (SIGKILL).")
    scoped("rebuild", "rebuild", "Restart agents on their deployed config, read afresh.")
    main.commands["rebuild"].params.append(click.Option(
        ["--refresh"], is_flag=True, help="First rebuild the agent images from the mirror's current packages "
        "(security updates); other agents show needs_update until their next start."))

    @main.command()
    @click.argument("names", nargs=-1)
    @click.option("--all", "every", is_flag=True, help="Every managed agent.")
    @click.option("--purge", is_flag=True, help="Also delete state, config and credentials (messages stay).")
    @click.option("--yes", is_flag=True, help="Do not ask.")
    @pass_ctl
    @command
    def destroy(ctl: Any, names: tuple[str, ...], every: bool, purge: bool, yes: bool) -> None:
        """Destroy agents: stop them and remove their sandboxes; a tombstone keeps state, config and
        credentials unless --purge."""
        target = scope(names, every)
        what = "every managed agent" if every else ", ".join(names)
        if not yes and not click.confirm(f"{'purge' if purge else 'destroy'} {what}?", err=True):
            fail("nothing done", 1)
        agents = ctl.call("destroy", purge=purge, **target)["agents"]
        click.echo(f"destroyed {what}{' (purged)' if purge else ''}") if not ctl.as_json else emit_json(agents)

    @main.command()
    @click.argument("name")
    @pass_ctl
    @command
    def revive(ctl: Any, name: str) -> None:
        """Bring a destroyed agent back (its kept state, config and credentials) and start it."""
        report(ctl, "revive", ctl.call("revive", name=name)["agent_statuses"])

    @main.command()
    @click.argument("name")
    @click.option("--description", default="")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                  default=None, help="agent.toml to start from (default: the template).")
    @pass_ctl
    @command
    def spawn(ctl: Any, name: str, description: str, config_file: Path | None) -> None:
        """Create and start an agent now (the operator's direct spawn; recorded as an approved approval)."""
        config = config_file.read_text() if config_file else None
        report(ctl, "spawn", ctl.call("spawn", name=name, description=description, config=config)["agent_statuses"])
