"""`hivectl`: the operator's CLI. Speaks host.sock; tables for people, --json for scripts.

Every error is one line on stderr and a non-zero exit code named by the error (protocol.wire.EXIT_CODES);
3 means "not running" for `status`, as supervisorctl does.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hyperhive.client import SocketClient
from hyperhive.core.settings import load_settings
from hyperhive.protocol import EXIT_CODES, HiveError
from hyperhive.protocol.wire import ErrorCode

from ._options import setting_options
from ._output import age, emit_json, one_line, table

F = TypeVar("F", bound=Callable[..., Any])
EXIT_NOT_RUNNING = 3


class Ctl:
    def __init__(self, socket: Path, as_json: bool) -> None:
        self.client = SocketClient(socket)
        self.as_json = as_json

    def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        return self.client.request(cmd, **{k: v for k, v in fields.items() if v is not None})


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"hivectl: {message}", err=True)
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


@click.group()
@setting_options("runtime_dir")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="host.sock to talk to (default: <runtime-dir>/host.sock).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")
@click.pass_context
def main(ctx: click.Context, runtime_dir: str | None, socket_path: Path | None, as_json: bool) -> None:
    """hivectl: steer the hive from the shell."""
    socket = socket_path or load_settings({"runtime_dir": runtime_dir}).host_socket
    ctx.obj = Ctl(socket, as_json)


pass_ctl = click.make_pass_decorator(Ctl)


@main.command()
@pass_ctl
@command
def ping(ctl: Ctl) -> None:
    """Check that the daemon answers."""
    result = ctl.call("ping")
    emit_json(result) if ctl.as_json else click.echo(f"hive-c0re {result['daemon_version']} is running")


@main.command("list")
@pass_ctl
@command
def list_agents(ctl: Ctl) -> None:
    """Names of every agent."""
    agents = ctl.call("list")["agents"]
    emit_json(agents) if ctl.as_json else click.echo("\n".join(agents))


@main.command()
@click.argument("names", nargs=-1)
@pass_ctl
@command
def status(ctl: Ctl, names: tuple[str, ...]) -> None:
    """Status rows (all agents, or the named ones; exit 3 if a named one is not running)."""
    rows = ctl.call("agent_status", names=list(names) or None)["agent_statuses"]
    if ctl.as_json:
        emit_json(rows)
    else:
        click.echo(table(
            ["name", "kind", "state", "model", "sha", "unread", "remind", "approvals", "status", "seen"],
            [[r["name"], r["kind"], _state(r), r["active_model"], r["deployed_sha"], r["unread"],
              r["pending_reminders"], r["pending_approvals"],
              one_line(r["status_text"], 40) if r["status_text"] else None, age(r["last_seen"])] for r in rows],
        ))
    if names and not all(r["running"] for r in rows):
        sys.exit(EXIT_NOT_RUNNING)


def _state(row: dict[str, Any]) -> str:
    flags = [f for f in ("paused", "needs_login", "needs_update") if row[f]]
    if not row.get("isolated", True):
        flags.append("unsandboxed")
    return str(row["state"]) + (f" ({', '.join(flags)})" if flags else "")


@main.command()
@pass_ctl
@command
def watch(ctl: Ctl) -> None:
    """Follow status changes live (one line per changed agent) until interrupted."""
    try:
        for line in ctl.client.stream("subscribe_agent_status"):
            for row in line.get("agent_statuses", []):
                if ctl.as_json:
                    click.echo(json.dumps(row))
                else:
                    click.echo(f"{row['name']}: {_state(row)} unread={row['unread']}"
                               + (f" — {row['status_text']}" if row["status_text"] else ""))
            for name in line.get("removed", []):
                click.echo(json.dumps({"removed": name}) if ctl.as_json else f"{name}: removed")
    except KeyboardInterrupt:
        pass


@main.command()
@click.argument("to")
@click.argument("text", nargs=-1, required=True)
@click.option("--reply-to", type=int, default=None, help="Id of the message this answers.")
@pass_ctl
@command
def send(ctl: Ctl, to: str, text: tuple[str, ...], reply_to: int | None) -> None:
    """Send TEXT to an agent (or '*' for every agent, 'manager' for hm1nd) as the operator."""
    result = ctl.call("send", to=to, body=" ".join(text), in_reply_to=reply_to)
    emit_json(result) if ctl.as_json else click.echo(f"sent #{result['id']} to {', '.join(result['recipients'])}")


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Show read messages too, and mark nothing read.")
@click.option("--limit", default=50, show_default=True)
@click.option("--keep-unread", is_flag=True, help="Do not mark the shown messages read.")
@pass_ctl
@command
def inbox(ctl: Ctl, show_all: bool, limit: int, keep_unread: bool) -> None:
    """The operator's inbox: unread messages, oldest first, then marked read."""
    messages = list(reversed(ctl.call("inbox", limit=limit, unread_only=not show_all)["messages"]))
    if ctl.as_json:
        emit_json(messages)
    elif not messages:
        click.echo("no unread messages" if not show_all else "the inbox is empty")
    else:
        for m in messages:
            mark = "" if m["acked_at"] else "* "
            click.echo(f"{mark}#{m['id']} {m['sent_at']} {m['sender']}: {m['body']}")
    unread = [m["id"] for m in messages if not m["acked_at"]]
    if unread and not show_all and not keep_unread:
        ctl.call("ack", ids=unread)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_ctl
@command
def ack(ctl: Ctl, ids: tuple[int, ...]) -> None:
    """Mark operator messages read."""
    acked = ctl.call("ack", ids=list(ids))["acked"]
    emit_json(acked) if ctl.as_json else click.echo(f"acked {len(acked)} message(s)")


@main.command()
@click.option("--limit", default=30, show_default=True)
@pass_ctl
@command
def flow(ctl: Ctl, limit: int) -> None:
    """The latest messages across the hive, oldest first."""
    messages = list(reversed(ctl.call("recent", limit=limit)["messages"]))
    if ctl.as_json:
        emit_json(messages)
        return
    for m in messages:
        state = "acked" if m["acked_at"] else "delivered" if m["delivered_at"] else "queued"
        click.echo(f"#{m['id']} {m['sender']} → {m['recipient']} [{state}]: {one_line(m['body'])}")


@main.command()
@click.argument("name")
@pass_ctl
@command
def pause(ctl: Ctl, name: str) -> None:
    """Pause an agent: it takes no new turns; its mail waits."""
    ctl.call("set_paused", name=name, paused=True)
    click.echo(f"{name} paused") if not ctl.as_json else emit_json({"paused": name})


@main.command()
@click.argument("name")
@pass_ctl
@command
def resume(ctl: Ctl, name: str) -> None:
    """Resume a paused agent."""
    ctl.call("set_paused", name=name, paused=False)
    click.echo(f"{name} resumed") if not ctl.as_json else emit_json({"resumed": name})


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Closed questions too.")
@pass_ctl
@command
def questions(ctl: Ctl, show_all: bool) -> None:
    """Questions agents asked the operator (and each other) that wait for an answer."""
    found = ctl.call("questions", status=None if show_all else "open")["questions"]
    if ctl.as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no open questions")
    for q in found:
        left = f", {max(0, int(q['expires_at'] - time.time()))} s left" if q["status"] == "open" else ""
        click.echo(f"#{q['id']} {q['asker']} → {q['target']} [{q['status']}{left}]: {one_line(q['question'])}")
        if q["options"]:
            click.echo(f"    options: {' | '.join(q['options'])}{' (several allowed)' if q['multi'] else ''}")
        if q["answer"] is not None:
            click.echo(f"    answer: {one_line(q['answer'])}")


@main.command()
@click.argument("question_id", type=int)
@click.argument("text", nargs=-1, required=True)
@pass_ctl
@command
def answer(ctl: Ctl, question_id: int, text: tuple[str, ...]) -> None:
    """Answer a question addressed to the operator."""
    q = ctl.call("answer", id=question_id, answer=" ".join(text))["question"]
    click.echo(f"answered #{q['id']} for {q['asker']}") if not ctl.as_json else emit_json(q)


@main.command()
@click.argument("agent", required=False)
@pass_ctl
@command
def reminders(ctl: Ctl, agent: str | None) -> None:
    """Pending reminders (of one agent, or all)."""
    found = ctl.call("reminders", agent=agent)["reminders"]
    if ctl.as_json:
        emit_json(found)
        return
    click.echo(table(["ID", "AGENT", "DUE", "BODY"], [[str(r["id"]), r["agent"], r["due_at"], one_line(r["body"])]
                                                      for r in found]) if found else "no pending reminders")


def _control_command(name: str, cmd: str, done: str, help_text: str) -> None:
    """hivectl commands that send one operator control to an agent's harness."""

    @main.command(name, help=help_text)
    @click.argument("agent")
    @pass_ctl
    @command
    def control(ctl: Ctl, agent: str) -> None:
        ctl.call(cmd, name=agent)
        click.echo(f"{agent}: {done}") if not ctl.as_json else emit_json({cmd: agent})


_control_command("interrupt", "interrupt", "turn interrupted",
                 "End the agent's running turn cleanly; the message stays in its session.")
_control_command("new-session", "new_session", "the next turn starts a new session",
                 "Start the agent's next turn in a fresh Claude session.")
_control_command("compact", "compact", "compacting its session", "Compact the agent's Claude session.")
_control_command("logged-in", "logged_in", "told to retry with its new credentials",
                 "Tell an agent that needs login that its Claude CLI has credentials again.")


@main.command("model")
@click.argument("name")
@click.argument("model")
@pass_ctl
@command
def set_model(ctl: Ctl, name: str, model: str) -> None:
    """Switch the model an agent's turns run on (kept across harness restarts)."""
    ctl.call("set_model", name=name, model=model)
    click.echo(f"{name}: model {model}") if not ctl.as_json else emit_json({"model": model, "name": name})


@main.command()
@pass_ctl
@command
def urls(ctl: Ctl) -> None:
    """The dashboard and service URLs."""
    result = ctl.call("urls")["urls"]
    emit_json(result) if ctl.as_json else click.echo(f"dashboard: {result['home']}")


@main.command("register-peer")
@click.argument("name")
@click.option("--description", default="", help="What this peer is, for the listing.")
@pass_ctl
@command
def register_peer(ctl: Ctl, name: str, description: str) -> None:
    """Make a socket dir for an agent the hive does not run, and list it as a peer."""
    result = ctl.call("register_peer", name=name, description=description)
    if ctl.as_json:
        emit_json(result)
        return
    click.echo(f"registered peer {name}\n"
               f"bind-mount its socket dir into the peer's container: {result['bind_mount']}\n"
               f"then run inside it: hive-ag3nt serve")


@main.command("unregister-peer")
@click.argument("name")
@pass_ctl
@command
def unregister_peer(ctl: Ctl, name: str) -> None:
    """Remove a peer's socket and listing; its messages are kept."""
    ctl.call("unregister_peer", name=name)
    click.echo(f"unregistered peer {name} (its messages are kept)") if not ctl.as_json else emit_json({"ok": True})


@main.command()
@click.option("--agent", default=None)
@click.option("--after", "after_seq", default=0, show_default=True)
@click.option("--kind", "kinds", multiple=True)
@click.option("--limit", default=100, show_default=True)
@pass_ctl
@command
def events(ctl: Ctl, agent: str | None, after_seq: int, kinds: tuple[str, ...], limit: int) -> None:
    """Stored events (turns, crashes, approvals), oldest first."""
    found = ctl.call("events", agent=agent, after_seq=after_seq, kinds=list(kinds) or None, limit=limit)["events"]
    if ctl.as_json:
        emit_json(found)
        return
    for e in found:
        click.echo(f"{e['seq']} {e['at']} {e['agent'] or '-'} {e['kind']} {one_line(json.dumps(e['payload']), 90)}")


@main.command()
@click.argument("request_json")
@pass_ctl
@command
def raw(ctl: Ctl, request_json: str) -> None:
    """Send one raw request line (JSON) and print the response."""
    try:
        obj = json.loads(request_json)
    except json.JSONDecodeError as exc:
        raise HiveError(ErrorCode.BAD_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or "cmd" not in obj:
        raise HiveError(ErrorCode.BAD_REQUEST, 'give a JSON object with a "cmd"')
    emit_json(ctl.client.request(obj.pop("cmd"), **obj))


if __name__ == "__main__":
    main()
