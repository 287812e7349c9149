"""`hivectl`: the operator's CLI. Speaks host.sock; tables for people, --json for scripts.

Commands are defined with `@main.command()`, `@pass_ctl`, `@command` (plumbing in _ctl.py); the original
daemon CLI's admin verbs (_admin.py) and the lifecycle commands (_lifecycle.py) are shared with
`hive-c0re` and added below as the same command objects.

Every error is one line on stderr and a non-zero exit code named by the error (protocol.wire.EXIT_CODES);
3 means "not running" for `status`, as supervisorctl does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from hyperhive.protocol import HiveError, StatusRow
from hyperhive.protocol import host_requests as rq
from hyperhive.protocol import replies as rp
from hyperhive.protocol.fields import verbs_of
from hyperhive.protocol.wire import ErrorCode

from . import _admin, _lifecycle, _shell
from ._ctl import Ctl, add_commands, add_derived, client_options, command, face, fail, make_ctl, one_call, pass_ctl
from ._output import age, emit_json, one_line, table

EXIT_NOT_RUNNING = 3


@click.group()
@client_options
@click.pass_context
def main(ctx: click.Context, runtime_dir: str | None, socket_path: Path | None, as_json: bool) -> None:
    """hivectl: steer the hive from the shell."""
    ctx.obj = make_ctl("hivectl", runtime_dir, socket_path, as_json)


# Shared with hive-c0re's admin verbs (the original's names) and the lifecycle commands: one definition each.
add_commands(main, _admin.COMMANDS + _lifecycle.COMMANDS + _shell.COMMANDS)
main.add_command(_admin.pending, "approvals")  # this CLI's name for the original's `pending`


main.add_command(one_call("ping", rq.Ping, lambda r: (r, f"hive-c0re {r.daemon_version} is running"),
                          "Check that the daemon answers."))


@main.command()
@click.argument("names", nargs=-1)
@pass_ctl
@command
@face(rq.AgentStatus)
def status(ctl: Ctl, names: tuple[str, ...]) -> None:
    """Status rows (all agents, or the named ones; exit 3 if a named one is not running)."""
    rows = ctl.verb(rq.AgentStatus, names=list(names) or None).agent_statuses
    if ctl.as_json:
        emit_json(rows)
    else:
        click.echo(table(
            ["name", "kind", "state", "node", "model", "sha", "unread", "remind", "approvals", "status", "seen"],
            [[r.name, r.kind, _state(r), r.node, r.active_model, r.deployed_sha, r.unread, r.pending_reminders,
              r.pending_approvals, one_line(r.status_text, 40) if r.status_text else None, age(r.last_seen)]
             for r in rows],
        ))
    if names and not all(r.running for r in rows):
        sys.exit(EXIT_NOT_RUNNING)


def _state(row: StatusRow) -> str:
    flags = [f for f in ("paused", "needs_login", "needs_update") if getattr(row, f)]
    if not row.isolated:
        flags.append("unsandboxed")
    return row.state + (f" ({', '.join(flags)})" if flags else "")


@main.command()
@pass_ctl
@command
@face(rq.SubscribeAgentStatus)
def watch(ctl: Ctl) -> None:
    """Follow status changes live (one line per changed agent) until interrupted."""
    try:
        for line in ctl.client.stream("subscribe_agent_status"):
            change = rp.StatusChange.model_validate({"agent_statuses": [], **line})  # the first line is bare
            for row in change.agent_statuses:
                if ctl.as_json:
                    click.echo(row.model_dump_json())
                else:
                    click.echo(f"{row.name}: {_state(row)} unread={row.unread}"
                               + (f" — {row.status_text}" if row.status_text else ""))
            for name in change.removed or []:
                click.echo(json.dumps({"removed": name}) if ctl.as_json else f"{name}: removed")
    except KeyboardInterrupt:
        pass


@main.command()
@click.argument("to")
@click.argument("text", nargs=-1, required=True)
@click.option("--reply-to", type=int, default=None, help="Id of the message this answers.")
@pass_ctl
@command
@face(rq.OperatorSend)
def send(ctl: Ctl, to: str, text: tuple[str, ...], reply_to: int | None) -> None:
    """Send TEXT to an agent (or '*' for every agent, 'manager' for hm1nd) as the operator."""
    result = ctl.verb(rq.OperatorSend, to=to, body=" ".join(text), in_reply_to=reply_to)
    emit_json(result) if ctl.as_json else click.echo(f"sent #{result.id} to {', '.join(result.recipients)}")


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Show read messages too, and mark nothing read.")
@click.option("--limit", default=50, show_default=True)
@click.option("--keep-unread", is_flag=True, help="Do not mark the shown messages read.")
@pass_ctl
@command
@face(rq.OperatorInbox)
def inbox(ctl: Ctl, show_all: bool, limit: int, keep_unread: bool) -> None:
    """The operator's inbox: unread messages, oldest first, then marked read."""
    messages = list(reversed(ctl.verb(rq.OperatorInbox, limit=limit, unread_only=not show_all).messages))
    if ctl.as_json:
        emit_json(messages)
    elif not messages:
        click.echo("no unread messages" if not show_all else "the inbox is empty")
    else:
        for m in messages:
            mark = "" if m.acked_at else "* "
            click.echo(f"{mark}#{m.id} {m.sent_at} {m.sender}: {m.body}")
    unread = [m.id for m in messages if not m.acked_at]
    if unread and not show_all and not keep_unread:
        ctl.verb(rq.OperatorAck, ids=unread)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_ctl
@command
@face(rq.OperatorAck)
def ack(ctl: Ctl, ids: tuple[int, ...]) -> None:
    """Mark operator messages read."""
    acked = ctl.verb(rq.OperatorAck, ids=list(ids)).acked
    emit_json(acked) if ctl.as_json else click.echo(f"acked {len(acked)} message(s)")


@main.command()
@click.option("--limit", default=30, show_default=True)
@pass_ctl
@command
@face(rq.RecentMessages)
def flow(ctl: Ctl, limit: int) -> None:
    """The latest messages across the hive, oldest first."""
    messages = list(reversed(ctl.verb(rq.RecentMessages, limit=limit).messages))
    if ctl.as_json:
        emit_json(messages)
        return
    for m in messages:
        state = ("dropped" if m.dropped_at else "acked" if m.acked_at else
                 "delivered" if m.delivered_at else "queued")
        click.echo(f"#{m.id} {m.sender} → {m.recipient} [{state}]: {one_line(m.body)}")


def _pause_command(word: str, every_verb: type[rq.HostRequest[Any]], every_help: str, help_text: str) -> None:
    """`pause` and `resume`: one agent by name (set_paused), or every agent and schedule (--all)."""
    done = word + "d"

    @main.command(word, help=help_text)
    @click.argument("name", required=False)
    @click.option("--all", "every", is_flag=True, help=every_help)
    @pass_ctl
    @command
    @face(rq.SetPaused, every_verb)
    def switch(ctl: Ctl, name: str | None, every: bool) -> None:
        if every:
            _switched(ctl, ctl.verb(every_verb), done)
            return
        ctl.verb(rq.SetPaused, name=_one_name(name), paused=every_verb is rq.PauseAll)
        click.echo(f"{name} {done}") if not ctl.as_json else emit_json({done: name})


_pause_command("pause", rq.PauseAll, "Every agent, and disarm every schedule (the kill switch).",
               "Pause an agent: it takes no new turns; its mail waits. --all: every agent and schedule at once.")
_pause_command("resume", rq.ResumeAll, "Undo exactly the last `pause --all`.",
               "Resume a paused agent (and lift a loop breaker's pause). --all: undo the last `pause --all`.")


def _one_name(name: str | None) -> str:
    if not name:
        raise click.UsageError("name an agent, or give --all")
    return name


def _switched(ctl: Ctl, result: rp.Reply, done: str) -> None:
    """What `pause --all` paused (`paused_agents`, …) or `resume --all` resumed."""
    if ctl.as_json:
        emit_json(result)
        return
    for agent in getattr(result, f"{done}_agents"):
        click.echo(f"{agent}: {done}")
    for sid in getattr(result, f"{done}_schedules"):
        click.echo(f"schedule #{sid}: {done}")


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Closed questions too.")
@pass_ctl
@command
@face(rq.ListQuestions)
def questions(ctl: Ctl, show_all: bool) -> None:
    """Questions agents asked the operator (and each other) that wait for an answer."""
    found = ctl.verb(rq.ListQuestions, status=None if show_all else "open").questions
    if ctl.as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no open questions")
    for q in found:
        left = (f", {max(0, int(q.expires_at - time.time()))} s left"
                if q.status == "open" and q.expires_at is not None else "")
        click.echo(f"#{q.id} {q.asker} → {q.target} [{q.status}{left}]: {one_line(q.question)}")
        if q.options:
            click.echo(f"    options: {' | '.join(q.options)}{' (several allowed)' if q.multi else ''}")
        if q.answer is not None:
            click.echo(f"    answer: {one_line(q.answer)}")


@main.command()
@click.argument("question_id", type=int)
@click.argument("text", nargs=-1, required=True)
@pass_ctl
@command
@face(rq.AnswerQuestion)
def answer(ctl: Ctl, question_id: int, text: tuple[str, ...]) -> None:
    """Answer a question addressed to the operator."""
    q = ctl.verb(rq.AnswerQuestion, id=question_id, answer=" ".join(text)).question
    click.echo(f"answered #{q.id} for {q.asker}") if not ctl.as_json else emit_json(q)


@main.command()
@click.argument("agent", required=False)
@pass_ctl
@command
@face(rq.ListReminders)
def reminders(ctl: Ctl, agent: str | None) -> None:
    """Pending reminders (of one agent, or all)."""
    found = ctl.verb(rq.ListReminders, agent=agent).reminders
    if ctl.as_json:
        emit_json(found)
        return
    click.echo(table(["ID", "AGENT", "DUE", "BODY"], [[str(r.id), r.agent, r.due_at, one_line(r.body)]
                                                      for r in found]) if found else "no pending reminders")


@main.command()
@pass_ctl
@command
@face(rq.Images)
def images(ctl: Ctl) -> None:
    """Agent images: own packages, disk beyond the base, age and users (docs/images.md)."""
    found = ctl.verb(rq.Images).images
    if ctl.as_json:
        emit_json(found)
        return
    rows = [[i.id, i.kind, one_line(" ".join(i.packages), 40), f"{i.own_mb:.1f} MB", age(i.built_at),
             ", ".join(i.users) or "(unused)"] for i in found]
    click.echo(table(["ID", "KIND", "PACKAGES", "DISK", "AGE", "USERS"], rows) if rows else "no images")


@main.command("show-approval")
@click.argument("approval_id", type=int)
@pass_ctl
@command
@face(rq.ShowApproval)
def show_approval(ctl: Ctl, approval_id: int) -> None:
    """One approval with its details and diff."""
    a = ctl.verb(rq.ShowApproval, id=approval_id).approvals[0]
    if ctl.as_json:
        emit_json(a)
        return
    click.echo(f"#{a.id} {a.kind} for {a.agent} — {a.status} (asked by {a.requested_by} at {a.requested_at})")
    for label, value in (("description", a.description), ("commit", a.fetched_sha), ("note", a.note)):
        if value:
            click.echo(f"{label}: {value}")
    for key, value in a.details.items():  # a tool_use's input as JSON: the exact call
        click.echo(f"{key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value}")
    if a.diff is not None:
        click.echo("")
        click.echo(a.diff)
    _print_build_log(a.details)


def _print_build_log(details: dict[str, Any]) -> None:
    """While an approval's image builds, its log so far (mmdebstrap's and apt's lines)."""
    log = details.get("image_log")
    if details.get("image_build") == "building" and isinstance(log, str) and Path(log).is_file():
        click.echo("\nimage build log:")
        click.echo(Path(log).read_text(errors="replace").rstrip())


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Cancelled and finished schedules too.")
@pass_ctl
@command
@face(rq.ListSchedules)
def schedules(ctl: Ctl, show_all: bool) -> None:
    """Scheduled prompts."""
    found = ctl.verb(rq.ListSchedules, all=show_all).schedules
    if ctl.as_json:
        emit_json(found)
        return
    rows = [[str(s.id), s.status, ",".join(s.targets), s.next_fire_at or "-",
             f"{s.interval_seconds:g}s" if s.interval_seconds else "once", str(s.fire_count),
             one_line(s.body, 40)] for s in found]
    click.echo(table(["ID", "STATUS", "TARGETS", "NEXT", "EVERY", "FIRED", "BODY"], rows) if rows
               else "no schedules")


@main.command("schedule")
@click.argument("targets")
@click.argument("body")
@click.option("--at", "first", required=True, help="First firing: RFC 3339 time, or +SECONDS from now.")
@click.option("--every", "interval", type=float, default=None, help="Repeat every SECONDS.")
@click.option("--description", default="")
@pass_ctl
@command
@face(rq.CreateSchedule)
def schedule(ctl: Ctl, targets: str, body: str, first: str, interval: float | None, description: str) -> None:
    """Schedule a prompt to TARGETS (comma-separated agent names)."""
    first_fire: str | float = time.time() + float(first[1:]) if first.startswith("+") else first
    s = ctl.verb(rq.CreateSchedule, targets=targets.split(","), body=body, first_fire_at=first_fire,
                 interval_seconds=interval, description=description).schedule
    click.echo(f"schedule #{s.id} next at {s.next_fire_at}") if not ctl.as_json else emit_json(s)


@main.command("edit-schedule")
@click.argument("schedule_id", type=int)
@click.option("--targets", default=None, help="Comma-separated agent names.")
@click.option("--body", default=None)
@click.option("--at", "next_at", default=None, help="Next firing: RFC 3339 time, or +SECONDS from now.")
@click.option("--every", "interval", type=float, default=None, help="Repeat every SECONDS.")
@click.option("--description", default=None)
@pass_ctl
@command
@face(rq.UpdateSchedule)
def edit_schedule(ctl: Ctl, schedule_id: int, targets: str | None, body: str | None, next_at: str | None,
                  interval: float | None, description: str | None) -> None:
    """Change a schedule: its targets, body, next firing, interval or description."""
    when: str | float | None = time.time() + float(next_at[1:]) if next_at and next_at.startswith("+") else next_at
    s = ctl.verb(rq.UpdateSchedule, id=schedule_id, targets=targets.split(",") if targets else None, body=body,
                 next_fire_at=when, interval_seconds=interval, description=description).schedule
    click.echo(f"schedule #{s.id} next at {s.next_fire_at}") if not ctl.as_json else emit_json(s)


ScheduleVerb = type[rq.SetSchedulePaused] | type[rq.CancelSchedule] | type[rq.FireSchedule]


def _schedule_command(name: str, verb: ScheduleVerb, done: str, help_text: str, **fixed: Any) -> None:
    @main.command(name, help=help_text)
    @click.argument("schedule_id", type=int)
    @pass_ctl
    @command
    @face(verb)
    def change(ctl: Ctl, schedule_id: int) -> None:
        s = ctl.verb(verb, id=schedule_id, **fixed).schedule
        click.echo(f"schedule #{s.id} {done}") if not ctl.as_json else emit_json(s)


_schedule_command("pause-schedule", rq.SetSchedulePaused, "paused", "Pause a schedule.", paused=True)
_schedule_command("resume-schedule", rq.SetSchedulePaused, "resumed", "Resume a paused schedule.", paused=False)
_schedule_command("cancel-schedule", rq.CancelSchedule, "cancelled", "Cancel a schedule.")
_schedule_command("fire-schedule", rq.FireSchedule, "fired", "Fire a schedule once, now.")


main.add_command(one_call("dashboard-url", rq.DashboardUrl, lambda r: ({"url": r.url}, r.url),
                          "The dashboard's login URL (it carries the secret token: keep it to yourself)."))


@main.command()
@click.argument("name")
@pass_ctl
@command
@face(rq.RollbackConfig)
def rollback(ctl: Ctl, name: str) -> None:
    """Propose the revert of NAME's last deploy as an approval (approve it like any change)."""
    a = ctl.verb(rq.RollbackConfig, name=name).approvals[0]
    click.echo(f"approval #{a.id} ({a.status}): roll back {name}") if not ctl.as_json else emit_json(a)


def _control_command(name: str, verb: type[rq.HostRequest[Any]], done: str, help_text: str) -> None:
    """hivectl commands that send one operator control to an agent's harness."""

    @main.command(name, help=help_text)
    @click.argument("agent")
    @pass_ctl
    @command
    @face(verb)
    def control(ctl: Ctl, agent: str) -> None:
        ctl.verb(verb, name=agent)
        click.echo(f"{agent}: {done}") if not ctl.as_json else emit_json({verb.verb_name(): agent})


_control_command("interrupt", rq.Interrupt, "turn interrupted",
                 "End the agent's running turn cleanly; the message stays in its session.")
_control_command("new-session", rq.NewSession, "the next turn starts a new session",
                 "Start the agent's next turn in a fresh Claude session.")
_control_command("compact", rq.Compact, "compacting its session", "Compact the agent's Claude session.")
_control_command("logged-in", rq.LoggedIn, "told to retry with its new credentials",
                 "Tell an agent that needs login that its Claude CLI has credentials again.")


@main.command("model")
@click.argument("name")
@click.argument("model")
@pass_ctl
@command
@face(rq.SetModel)
def set_model(ctl: Ctl, name: str, model: str) -> None:
    """Switch the model an agent's turns run on (kept across harness restarts)."""
    ctl.verb(rq.SetModel, name=name, model=model)
    click.echo(f"{name}: model {model}") if not ctl.as_json else emit_json({"model": model, "name": name})


main.add_command(one_call("urls", rq.GetUrls, lambda r: (r.urls, f"dashboard: {r.urls.home}"),
                          "The dashboard and service URLs."))


@main.command()
@click.option("--agent", default=None)
@click.option("--after", "after_seq", default=0, show_default=True)
@click.option("--kind", "kinds", multiple=True)
@click.option("--limit", default=100, show_default=True)
@pass_ctl
@command
@face(rq.Events)
def events(ctl: Ctl, agent: str | None, after_seq: int, kinds: tuple[str, ...], limit: int) -> None:
    """Stored events (turns, crashes, approvals), oldest first."""
    found = ctl.verb(rq.Events, agent=agent, after_seq=after_seq, kinds=list(kinds) or None, limit=limit).events
    if ctl.as_json:
        emit_json(found)
        return
    for e in found:
        click.echo(f"{e.seq} {e.at} {e.agent or '-'} {e.kind} {one_line(json.dumps(e.payload), 90)}")


@main.command()
@click.argument("name")
@click.option("-n", "--lines", "count", default=50, show_default=True, help="How many of the last lines to show.")
@click.option("-f", "--follow", is_flag=True,
              help="Then print lines as they are written, across rotations, until interrupted (on the hive's host).")
@pass_ctl
@command
@face(rq.AgentLogs)
def logs(ctl: Ctl, name: str, count: int, follow: bool) -> None:
    """An agent's harness log: its last lines, oldest first."""
    result = ctl.verb(rq.AgentLogs, name=name, lines=0 if follow else count)
    if follow:
        _follow_log(Path(result.path), count, ctl.as_json)
    elif ctl.as_json:
        emit_json(result.lines)
    else:
        for line in result.lines:
            click.echo(line)


def _follow_log(path: Path, count: int, as_json: bool) -> None:
    """Read the file itself (woken by inotify): lines stream with no request per line and no polling."""
    from hyperhive.runtime.logfollow import LogFollower  # the runtime package: only `logs -f` needs it

    try:
        follower = LogFollower(path)
    except OSError as exc:
        fail(f"cannot follow {path}: {exc.strerror}; -f reads the log on the hive's host, as a user who may "
             "read the hive's state dir (without -f the daemon reads it for you)")
    out = sys.stdout.buffer
    partial = b""
    with follower:
        try:
            out.write(b"".join((json.dumps(line) if as_json else line).encode() + b"\n"
                               for line in follower.tail(count)))
            out.flush()
            for chunk in follower.follow():
                if as_json:  # one JSON string per complete line
                    *done, partial = (partial + chunk).split(b"\n")
                    chunk = b"".join(json.dumps(line.decode(errors="replace")).encode() + b"\n" for line in done)
                out.write(chunk)
                out.flush()
        except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or `| head` has read enough
            return
    fail(f"{path.parent} was removed (the agent was purged)")


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



@main.command("set-parent")
@click.argument("name")
@click.argument("parent", required=False)
@click.option("--top", is_flag=True, help="Hang NAME at the top of the tree (no parent).")
@pass_ctl
@command
@face(rq.SetParent)
def set_parent(ctl: Ctl, name: str, parent: str | None, top: bool) -> None:
    """Hang NAME under PARENT in the swarm tree (its subtree's schedules then need no approval from PARENT)."""
    if bool(parent) == top:
        fail("name the parent, or say --top", 2)
    row = ctl.verb(rq.SetParent, name=name, parent=None if top else parent).agent_statuses[0]
    click.echo(f"{name}: under {row.parent or 'nobody (top)'}") if not ctl.as_json else emit_json(row)


def _cancel_command(name: str, kind: str, verb: type[rq.HostRequest[Any]]) -> None:
    @main.command(name, help=f"Cancel an open {kind} by its id (the operator may cancel any).")
    @click.argument("item_id", type=int)
    @pass_ctl
    @command
    @face(verb)
    def cancel(ctl: Ctl, item_id: int) -> None:
        result = ctl.verb(verb, id=item_id)
        click.echo(f"{kind} #{item_id} cancelled") if not ctl.as_json else emit_json(result)


_cancel_command("cancel-question", "question", rq.CancelQuestion)
_cancel_command("cancel-reminder", "reminder", rq.CancelReminder)


_SPANS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _span(text: str) -> float:
    """'7d', '24h', '30m', '90s' → seconds."""
    unit = text[-1:].lower()
    try:
        amount = float(text[:-1]) if unit in _SPANS else float("nan")
    except ValueError:
        amount = float("nan")
    if not amount > 0:
        raise click.BadParameter(f"{text!r} is not a span like 7d, 24h, 30m or 90s")
    return amount * _SPANS[unit]


@main.command()
@click.argument("name", required=False)
@click.option("--since", "since", default="7d", show_default=True, help="How far back: 7d, 24h, 30m, 90s.")
@click.option("--by", type=click.Choice(["agent", "model", "day"]), default="agent", show_default=True)
@pass_ctl
@command
@face(rq.UsageReport)
def usage(ctl: Ctl, name: str | None, since: str, by: str) -> None:
    """Claude API usage and cost metered by the gateway, per agent, model or day."""
    result = ctl.verb(rq.UsageReport, name=name, since_seconds=_span(since), by=by)
    if ctl.as_json:
        emit_json(result)
        return
    rows = [[r.key, r.calls, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens,
             f"{r.cost_usd:.4f}"] for r in [*result.usage, result.total]]
    click.echo(table([by, "calls", "input", "output", "cache read", "cache write", "usd"], rows))
    click.echo(f"since {result.since}; prices as of {result.prices.retrieved}")


add_derived(main, verbs_of(rq.HostRequest))  # the verbs with no command above get one made from their model

if __name__ == "__main__":
    main()
