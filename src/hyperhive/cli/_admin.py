"""The admin verbs of the original's daemon CLI (`hive-c0re register-peer`, `list`, `pending`, `approve`,
`deny`, `spawn`, `request-spawn`, `kill`, `rebuild`, `destroy`, …), defined once: `hivectl` and
`hive-c0re` add these same command objects to their groups (`ORIGINAL_VERBS`), so a note written for the
original (`hive-c0re register-peer damocles`) works as typed, and both CLIs always agree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hyperhive.protocol import host_requests as rq

from . import _lifecycle
from ._ctl import Ctl, F, command, face, one_call, pass_ctl
from ._output import emit_json, one_line, table

APPROVAL_STATUSES = ["pending", "approved", "denied", "failed", "cancelled"]


list_agents = one_call("list", rq.ListAgents, lambda r: (r.agents, "\n".join(r.agents)), "Names of every agent.")


@click.command("pending")
@click.option("--status", type=click.Choice(APPROVAL_STATUSES), default=None,
              help="Only approvals with this status (default: all, newest first).")
@click.option("--agent", default=None)
@pass_ctl
@command
@face(rq.Pending)
def pending(ctl: Ctl, status: str | None, agent: str | None) -> None:
    """Approval requests: config changes, new agents, scheduled prompts (every status, newest first)."""
    found = ctl.verb(rq.Pending, status=status, agent=agent).approvals
    if ctl.as_json:
        emit_json(found)
        return
    rows = [[str(a.id), a.kind, a.agent, a.status + ("" if a.done or a.status != "approved" else " (running)"),
             a.requested_at, one_line(a.description or a.note or "", 50)] for a in found]
    click.echo(table(["ID", "KIND", "AGENT", "STATUS", "REQUESTED", "DESCRIPTION"], rows) if rows
               else "no approvals")


@click.command()
@click.argument("approval_id", type=int)
@click.option("--always", is_flag=True, help="A tool_use: also propose its rule as an allow rule from now on "
                                             "(a config change, approved like any other).")
@pass_ctl
@command
@face(rq.Approve, rq.ApproveAlways)
def approve(ctl: Ctl, approval_id: int, always: bool) -> None:
    """Approve a pending request; its work (a deploy) runs next, and the requester hears the outcome."""
    if always:
        a, change = ctl.verb(rq.ApproveAlways, id=approval_id).approvals
        if ctl.as_json:
            emit_json([a, change])
            return
        click.echo(f"approved #{a.id} ({a.kind} for {a.agent}); allow rule proposed as approval "
                   f"#{change.id} ({change.status}{': ' + change.note if change.note else ''})")
        return
    a = ctl.verb(rq.Approve, waiting=True, id=approval_id).approvals[0]
    click.echo(f"approved #{a.id} ({a.kind} for {a.agent})") if not ctl.as_json else emit_json(a)


@click.command()
@click.argument("approval_id", type=int)
@click.argument("words", nargs=-1)
@click.option("--note", default=None, help="Why: sent to the requester.")
@pass_ctl
@command
@face(rq.Deny)
def deny(ctl: Ctl, approval_id: int, words: tuple[str, ...], note: str | None) -> None:
    """Deny a pending request, with an optional note for the requester (--note TEXT, or the words after ID)."""
    a = ctl.verb(rq.Deny, id=approval_id, note=note or " ".join(words) or None).approvals[0]
    click.echo(f"denied #{a.id} ({a.kind} for {a.agent})") if not ctl.as_json else emit_json(a)


def _named(name: str, verb: type[rq.HostRequest[Any]], description: str) -> Callable[[F], click.Command]:
    """A command taking NAME and --description: a new agent's or a peer's."""

    def make(fn: F) -> click.Command:
        described = click.option("--description", default="", help=description)(pass_ctl(command(face(verb)(fn))))
        return click.command(name)(click.argument("name")(described))

    return make


@_named("request-spawn", rq.RequestSpawn, "What the agent is for (shown on the approval).")
def request_spawn(ctl: Ctl, name: str, description: str) -> None:
    """Queue a new agent from the template as a pending approval (approve it to create and start it)."""
    a = ctl.verb(rq.RequestSpawn, name=name, description=description).approvals[0]
    click.echo(f"approval #{a.id} ({a.status}): spawn {name}") if not ctl.as_json else emit_json(a)


@_named("register-peer", rq.RegisterPeer, "What this peer is, for the listing.")
def register_peer(ctl: Ctl, name: str, description: str) -> None:
    """Make a socket dir for an agent the hive does not run, and list it as a peer."""
    result = ctl.verb(rq.RegisterPeer, name=name, description=description)
    if ctl.as_json:
        emit_json(result)
        return
    click.echo(f"registered peer {name}\n"
               f"bind-mount its socket dir into the peer's container: {result.bind_mount}\n"
               f"then run inside it: hive-ag3nt serve")


@click.command("unregister-peer")
@click.argument("name")
@pass_ctl
@command
@face(rq.UnregisterPeer)
def unregister_peer(ctl: Ctl, name: str) -> None:
    """Remove a peer's socket and listing; its messages are kept."""
    ctl.verb(rq.UnregisterPeer, name=name)
    click.echo(f"unregistered peer {name} (its messages are kept)") if not ctl.as_json else emit_json({"ok": True})


# The original `hive-c0re`'s admin verbs, by the name it gave them (`serve` is `hive-c0re run`'s).
ORIGINAL_VERBS: dict[str, click.Command] = {
    "register-peer": register_peer,
    "unregister-peer": unregister_peer,
    "list": list_agents,
    "pending": pending,
    "approve": approve,
    "deny": deny,
    "spawn": _lifecycle.spawn,
    "request-spawn": request_spawn,
    "kill": _lifecycle.kill,
    "rebuild": _lifecycle.rebuild,
    "destroy": _lifecycle.destroy,
}
COMMANDS: tuple[click.Command, ...] = (list_agents, pending, approve, deny, request_spawn, register_peer,
                                       unregister_peer)
