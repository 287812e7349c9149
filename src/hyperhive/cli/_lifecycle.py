"""The lifecycle commands: spawn, start, stop, restart, kill, rebuild, destroy, revive. Defined once;
`hivectl` adds them all, `hive-c0re` the ones the original's daemon CLI had (see _admin.ORIGINAL_VERBS).

Scoped commands take agent names or `--all`; neither is an error (the original took an empty scope as
"everything"). They wait as long as the daemon does: a graceful stop lets the running turn finish, within
the agent's `restart.stop_timeout_seconds`, which may be longer than a client's usual patience."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path
from typing import Any

import click

from hyperhive.protocol import StatusRow
from hyperhive.protocol import host_requests as rq

from ._ctl import Ctl, command, face, fail, pass_ctl
from ._output import emit_json


def _scope(names: tuple[str, ...], every: bool) -> dict[str, Any]:
    if every and names:
        fail("name agents or say --all, not both", 2)
    if not every and not names:
        fail("name the agents to act on, or say --all (an empty scope is never 'everything')", 2)
    return {"all": True} if every else {"agent_names": list(names)}


def _report(ctl: Ctl, rows: list[StatusRow]) -> None:
    if ctl.as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row.name}: {row.state}")


Scoped = type[rq.Start] | type[rq.Stop] | type[rq.Restart] | type[rq.Kill] | type[rq.Rebuild]


def _scoped(name: str, verb: Scoped, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("names", nargs=-1)
    @click.option("--all", "every", is_flag=True, help="Every managed agent.")
    @pass_ctl
    @command
    @face(verb)
    def act(ctl: Ctl, /, names: tuple[str, ...], every: bool, **flags: bool) -> None:
        _report(ctl, ctl.verb(verb, waiting=True, **_scope(names, every), **flags).agent_statuses)

    return act


start = _scoped("start", rq.Start, "Start agents.")
stop = _scoped("stop", rq.Stop, "Stop agents gracefully (the running turn may finish, within the stop timeout).")
restart = _scoped("restart", rq.Restart, "Restart agents.")
kill = _scoped("kill", rq.Kill, "Kill agents now (SIGKILL).")
rebuild = _scoped("rebuild", rq.Rebuild, "Restart agents on their deployed config, read afresh.")
rebuild.params.append(click.Option(
    ["--refresh"], is_flag=True, help="First rebuild the agent images from the mirror's current packages "
    "(security updates); other agents show needs_update until their next start."))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every managed agent.")
@click.option("--purge", is_flag=True, help="Also delete state, config and credentials (messages stay).")
@click.option("--yes", is_flag=True, help="Do not ask.")
@pass_ctl
@command
@face(rq.Destroy)
def destroy(ctl: Ctl, names: tuple[str, ...], every: bool, purge: bool, yes: bool) -> None:
    """Destroy agents: stop them and remove their sandboxes; a tombstone keeps state, config and
    credentials unless --purge."""
    target = _scope(names, every)
    what = "every managed agent" if every else ", ".join(names)
    if not yes and not click.confirm(f"{'purge' if purge else 'destroy'} {what}?", err=True):
        fail("nothing done", 1)
    agents = ctl.verb(rq.Destroy, waiting=True, purge=purge, **target).agents
    click.echo(f"destroyed {what}{' (purged)' if purge else ''}") if not ctl.as_json else emit_json(agents)


@click.command()
@click.argument("name")
@pass_ctl
@command
@face(rq.Revive)
def revive(ctl: Ctl, name: str) -> None:
    """Bring a destroyed agent back (its kept state, config and credentials) and start it."""
    _report(ctl, ctl.verb(rq.Revive, waiting=True, name=name).agent_statuses)


@click.command()
@click.argument("name")
@click.option("--description", default="")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="agent.toml to start from (default: the template).")
@click.option("--allow", default=None, metavar="A,B", help="Agents it may send to (added to allowed_recipients).")
@pass_ctl
@command
@face(rq.Spawn)
def spawn(ctl: Ctl, name: str, description: str, config_file: Path | None, allow: str | None) -> None:
    """Create and start an agent now (the operator's direct spawn; recorded as an approved approval)."""
    config = config_file.read_text() if config_file else None
    allowed = [a.strip() for a in allow.split(",") if a.strip()] if allow else None
    with _build_log_printed(ctl, config):
        statuses = ctl.verb(rq.Spawn, waiting=True, name=name, description=description, config=config,
                            allow=allowed).agent_statuses
    _report(ctl, statuses)


def _build_log_printed(ctl: Ctl, config: str | None) -> contextlib.AbstractContextManager[object]:
    """A config with packages may have its image built as the agent starts: print that build's log as it
    grows (docs/images.md). Nothing to print for JSON output or a config without packages."""
    try:
        packages = tomllib.loads(config).get("packages") if config else None
    except tomllib.TOMLDecodeError:
        packages = None  # the daemon says what is wrong with it
    if ctl.as_json or not packages:
        return contextlib.nullcontext()
    from hyperhive.images.buildlogs import BuildLogTail  # the images package is large; only spawn needs it

    image_dir = ctl.verb(rq.Images).image_dir
    return BuildLogTail(Path(image_dir) / "logs", lambda line: click.echo(f"image build: {line}"))


COMMANDS: tuple[click.Command, ...] = (spawn, start, stop, restart, kill, rebuild, destroy, revive)
