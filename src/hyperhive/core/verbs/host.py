"""host.sock verbs, one function each, marked with the request it answers (`@answers`, table.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar, cast

from pydantic import ValidationError

import hyperhive
from hyperhive.config import AgentConfig, ConfigError, dump_agent_config, load_agent_config, render_template
from hyperhive.protocol import OPERATOR, ErrorCode, HiveError, ok_response, rfc3339
from hyperhive.protocol import host_requests as rq
from hyperhive.protocol import replies as rp
from hyperhive.store import AgentRecord

from .. import kill_switch, views
from ..lineserver import Connection
from ..logs import agent_log_path, tail_lines
from ..sandbox_entry import sandbox_entry
from . import loose_ends as le
from . import usage
from .table import VerbTable, answers, streams

if TYPE_CHECKING:
    from ..parts import HiveParts as Hive  # what the verbs act on (the doors in hive.py call them)

R = TypeVar("R", bound=rp.Reply)

@answers(rq.Ping)
async def ping(hive: Hive, req: rq.Ping) -> rp.Pong:
    return rp.Pong(pong=True, daemon_version=hyperhive.__version__)


@answers(rq.ListAgents)
async def list_agents(hive: Hive, req: rq.ListAgents) -> rp.AgentNames:
    return rp.AgentNames(agents=hive.registry.agent_names())


@answers(rq.AgentStatus)
async def agent_status(hive: Hive, req: rq.AgentStatus) -> rp.AgentStatuses:
    return await _rows(hive, req.names)


async def _rows(hive: Hive, names: list[str] | None) -> rp.AgentStatuses:
    """The status rows a verb that changed agents answers with (None: every agent)."""
    return rp.AgentStatuses(agent_statuses=await hive.status_rows(names))


@answers(rq.GetUrls)
async def urls(hive: Hive, req: rq.GetUrls) -> rp.UrlsReply:
    return rp.UrlsReply(urls=hive.urls())


@answers(rq.SetPaused)
async def set_paused(hive: Hive, req: rq.SetPaused) -> rp.AgentStatuses:
    await hive.registry.update(req.name, paused=req.paused)
    if not req.paused:
        hive.loop_breaker.forget(req.name)  # a resume lifts the loop breaker's pause and its count
    hive.broker.inboxes.notify(req.name)  # a harness waiting to resume wakes at once
    return await _rows(hive, [req.name])


@answers(rq.OperatorSend)
async def send(hive: Hive, req: rq.OperatorSend) -> rp.Sent:
    stored = await hive.broker.send(OPERATOR, req.to, req.body, req.in_reply_to)
    return views.sent(stored)


@answers(rq.OperatorInbox)
async def inbox(hive: Hive, req: rq.OperatorInbox) -> rp.Inbox:
    messages = await hive.store.inbox_messages(OPERATOR, req.limit, req.unread_only)
    return rp.Inbox(messages=views.messages(messages), unread=await hive.store.count_unacked(OPERATOR))


@answers(rq.OperatorAck)
async def ack(hive: Hive, req: rq.OperatorAck) -> rp.Acked:
    return rp.Acked(acked=await hive.broker.ack(OPERATOR, req.ids))


@answers(rq.RecentMessages)
async def recent(hive: Hive, req: rq.RecentMessages) -> rp.Messages:
    return rp.Messages(messages=views.messages(await hive.store.recent_messages(req.limit, req.before_id)))


@answers(rq.RegisterPeer)
async def register_peer(hive: Hive, req: rq.RegisterPeer) -> rp.PeerRegistered:
    await hive.registry.add(AgentRecord(name=req.name, kind="peer", created_at=time.time(),
                                        description=req.description, node=hive.settings.node))
    await hive.agent_sockets.open(req.name)
    socket_dir = hive.settings.agent_socket_dir(req.name)
    rows = await hive.status_rows([req.name])
    return rp.PeerRegistered(agent_statuses=rows[:1], socket_dir=str(socket_dir), bind_mount=f"{socket_dir}:/run/hive")


@answers(rq.UnregisterPeer)
async def unregister_peer(hive: Hive, req: rq.UnregisterPeer) -> rp.AgentNames:
    agent = hive.registry.require(req.name)
    if agent.kind != "peer":
        raise HiveError(ErrorCode.NOT_ALLOWED,
                        f"{req.name!r} is a managed agent, not a peer: use destroy to remove it")
    await hive.agent_sockets.close(req.name, remove_dir=True)
    await hive.registry.remove(req.name)
    return rp.AgentNames(agents=hive.registry.agent_names())


@answers(rq.Events)
async def events(hive: Hive, req: rq.Events) -> rp.Events:
    found = await hive.store.events_after(req.after_seq, req.agent, req.kinds, req.limit)
    return rp.Events(events=[views.event_view(e) for e in found])


@answers(rq.Interrupt, rq.NewSession, rq.Compact)
async def control(hive: Hive, req: rq.Interrupt | rq.NewSession | rq.Compact) -> rp.Done:
    """The controls that carry nothing but their name, which is the verb's: the harness gets it as it is."""
    hive.registry.require(req.name)
    hive.controls.push(req.name, rp.Control(control=req.verb_name()))
    return rp.Done()


@answers(rq.SetModel)
async def set_model(hive: Hive, req: rq.SetModel) -> rp.AgentStatuses:
    """Kept on the agent's record, so a harness that starts later uses it too."""
    hive.registry.require(req.name)
    config = hive.deployments.deployed(req.name)
    if config is not None and config.available_models and req.model not in config.available_models:
        raise HiveError(ErrorCode.NOT_ALLOWED, f"{req.name} may run on {', '.join(config.available_models)}; "
                                               f"{req.model!r} is not in its available_models (agent.toml)")
    await hive.registry.update(req.name, active_model=req.model)
    if hive.controls.connected(req.name):
        hive.controls.push(req.name, rp.Control(control="set_model", model=req.model))
    return await _rows(hive, [req.name])


@answers(rq.LoggedIn)
async def logged_in(hive: Hive, req: rq.LoggedIn) -> rp.AgentStatuses:
    was_waiting = hive.registry.require(req.name).needs_login
    await hive.registry.update(req.name, needs_login=False)
    if hive.controls.connected(req.name):
        hive.controls.push(req.name, rp.Control(control="logged_in"))
    if was_waiting:
        await hive.notify("logged_in", req.name, {})
    else:
        await hive.events.append("logged_in", req.name)
    return await _rows(hive, [req.name])


@answers(rq.ListQuestions)
async def questions(hive: Hive, req: rq.ListQuestions) -> rp.Questions:
    found = await hive.store.questions(status=req.status, limit=req.limit)
    return rp.Questions(questions=[views.question(q) for q in found])


@answers(rq.AnswerQuestion)
async def answer(hive: Hive, req: rq.AnswerQuestion) -> rp.QuestionReply:
    return views.question_reply(await hive.questions.answer(req.id, req.answer, OPERATOR))


@answers(rq.CancelQuestion)
async def cancel_question(hive: Hive, req: rq.CancelQuestion) -> rp.QuestionReply:
    return views.question_reply(await hive.questions.cancel(req.id, None))


@answers(rq.ListReminders)
async def reminders(hive: Hive, req: rq.ListReminders) -> rp.Reminders:
    return rp.Reminders(reminders=[views.reminder(r) for r in hive.reminders.pending(req.agent)])


@answers(rq.CancelReminder)
async def cancel_reminder(hive: Hive, req: rq.CancelReminder) -> rp.ReminderReply:
    return views.reminder_reply(await hive.reminders.cancel(req.id, None))


@answers(rq.LooseEnds)
async def loose_ends(hive: Hive, req: rq.LooseEnds) -> rp.LooseEndsReply:
    return await le.loose_ends(hive, req.agent)


@answers(rq.Pending)
async def pending(hive: Hive, req: rq.Pending) -> rp.Approvals:
    found = await hive.store.list_approvals(req.status, req.kind, req.agent, req.limit)
    return rp.Approvals(approvals=[views.approval(a) for a in found])


@answers(rq.ShowApproval)
async def show_approval(hive: Hive, req: rq.ShowApproval) -> rp.Approvals:
    found = await hive.store.get_approval(req.id)
    if found is None:
        raise HiveError(ErrorCode.NOT_FOUND, f"no approval #{req.id}")
    return rp.Approvals(approvals=[views.approval(found)])


@answers(rq.Approve)
async def approve(hive: Hive, req: rq.Approve) -> rp.Approvals:
    return rp.Approvals(approvals=[views.approval(await hive.approvals.approve(req.id))])


@answers(rq.Deny)
async def deny(hive: Hive, req: rq.Deny) -> rp.Approvals:
    return rp.Approvals(approvals=[views.approval(await hive.approvals.deny(req.id, req.note))])


@answers(rq.ApproveAlways)
async def approve_always(hive: Hive, req: rq.ApproveAlways) -> rp.Approvals:
    approved, change = await hive.tool_prompts.approve_always(req.id)
    return rp.Approvals(approvals=[views.approval(approved), views.approval(change)])


@answers(rq.ListSchedules)
async def schedules(hive: Hive, req: rq.ListSchedules) -> rp.Schedules:
    statuses = None if req.all else ["awaiting_approval", "active", "paused"]
    return rp.Schedules(schedules=[views.schedule(s) for s in await hive.store.list_schedules(statuses)])  # type: ignore[arg-type]


@answers(rq.CreateSchedule)
async def create_schedule(hive: Hive, req: rq.CreateSchedule) -> rp.ScheduleReply:
    first = le.due_time(None, req.first_fire_at)
    created = await hive.schedules.create(req.targets, req.body, first, req.interval_seconds, req.description)
    return views.schedule_reply(created)


@answers(rq.UpdateSchedule)
async def update_schedule(hive: Hive, req: rq.UpdateSchedule) -> rp.ScheduleReply:
    fields = req.model_dump(exclude_none=True, exclude={"cmd", "id", "req_id", "version"})
    if "next_fire_at" in fields:
        fields["next_fire_at"] = le.due_time(None, fields["next_fire_at"])
    return views.schedule_reply(await hive.schedules.update(req.id, **fields))


@answers(rq.SetSchedulePaused)
async def set_schedule_paused(hive: Hive, req: rq.SetSchedulePaused) -> rp.ScheduleReply:
    return views.schedule_reply(await hive.schedules.set_paused(req.id, req.paused))


@answers(rq.CancelSchedule)
async def cancel_schedule(hive: Hive, req: rq.CancelSchedule) -> rp.ScheduleReply:
    return views.schedule_reply(await hive.schedules.cancel(req.id, None, req.targets))


@answers(rq.FireSchedule)
async def fire_schedule(hive: Hive, req: rq.FireSchedule) -> rp.ScheduleReply:
    return views.schedule_reply(await hive.schedules.fire_now(req.id, None))


async def _each(hive: Hive, req: rq.Scoped[rp.AgentStatuses], action: Callable[[str], Awaitable[None]]
                ) -> rp.AgentStatuses:
    """Run a lifecycle action on each agent of the scope (`all`: the managed, living ones); every name is
    checked before anything is done."""
    every = [a.name for a in hive.registry.all() if a.kind == "managed" and a.lifecycle != "destroyed"]
    names = req.names(every)
    for name in names:
        hive.supervisor.managed(name)  # unknown names and peers are refused before any action
    for name in names:
        await action(name)
    return await _rows(hive, names or None)


@answers(rq.Start)
async def start(hive: Hive, req: rq.Start) -> rp.AgentStatuses:
    return await _each(hive, req, hive.supervisor.start_agent)


@answers(rq.Stop)
async def stop(hive: Hive, req: rq.Stop) -> rp.AgentStatuses:
    return await _each(hive, req, hive.supervisor.stop_agent if req.graceful else hive.supervisor.kill_agent)


@answers(rq.Restart)
async def restart(hive: Hive, req: rq.Restart) -> rp.AgentStatuses:
    return await _each(hive, req, hive.supervisor.restart_agent)


@answers(rq.Kill)
async def kill(hive: Hive, req: rq.Kill) -> rp.AgentStatuses:
    return await _each(hive, req, hive.supervisor.kill_agent)


@answers(rq.Rebuild)
async def rebuild(hive: Hive, req: rq.Rebuild) -> rp.AgentStatuses:
    if req.refresh:
        await hive.images.refresh(rfc3339(time.time()) or "")
    why = "the operator rebuilt it" + (" on images refreshed from the mirror" if req.refresh else "")
    return await _each(hive, req, lambda name: hive.supervisor.restart_agent(name, why))


@answers(rq.Images)
async def images(hive: Hive, req: rq.Images) -> rp.Images:
    return rp.Images(images=[rp.Image.model_validate(row) for row in await hive.image_usage.rows()],
                     image_dir=str((await hive.images.store()).root))


@answers(rq.Destroy)
async def destroy(hive: Hive, req: rq.Destroy) -> rp.AgentNames:
    names = req.names([a.name for a in hive.registry.all() if a.kind == "managed"])
    for name in names:
        hive.supervisor.managed(name)
    for name in names:
        await hive.supervisor.destroy_agent(name, req.purge)
    return rp.AgentNames(agents=hive.registry.agent_names())


@answers(rq.Revive)
async def revive(hive: Hive, req: rq.Revive) -> rp.AgentStatuses:
    await hive.supervisor.revive_agent(req.name)
    return await _rows(hive, [req.name])


@answers(rq.Spawn)
async def spawn(hive: Hive, req: rq.Spawn) -> rp.AgentStatuses:
    config = req.config
    if req.allow:
        config = with_recipients(req.name, req.description, config, req.allow)
    try:
        await hive.deployments.spawn_now(req.name, req.description, config)
    except ConfigError as exc:  # the given agent.toml: its loader's sentence is the answer
        raise HiveError(ErrorCode.BAD_REQUEST, str(exc)) from None
    return await _rows(hive, [req.name])


def with_recipients(name: str, description: str, text: str | None, allow: list[str]) -> str:
    """The agent.toml to spawn from (given, else the template) with `allow` added to its allowed_recipients:
    two agents spawned with each other's name can talk at once, without a config round trip."""
    try:
        config = load_agent_config(text if text is not None else render_template(name, description),
                                   expected_name=name)
        recipients = [*config.allowed_recipients, *(a for a in allow if a not in config.allowed_recipients)]
        return dump_agent_config(AgentConfig.model_validate({**config.model_dump(), "allowed_recipients": recipients}))
    except (ConfigError, ValidationError) as exc:
        raise HiveError(ErrorCode.BAD_REQUEST, f"the config of {name} with --allow is not valid: {exc}") from None


@answers(rq.SetParent)
async def set_parent(hive: Hive, req: rq.SetParent) -> rp.AgentStatuses:
    await hive.registry.set_parent(req.name, req.parent)
    await hive.events.append("parent_set", req.name, {"parent": req.parent})
    return await _rows(hive, [req.name])


@answers(rq.RequestSpawn)
async def request_spawn(hive: Hive, req: rq.RequestSpawn) -> rp.Approvals:
    approval = await hive.deployments.request_spawn(OPERATOR, req.name, req.description)
    return rp.Approvals(approvals=[views.approval(approval)])


@answers(rq.DashboardUrl)
async def dashboard_url(hive: Hive, req: rq.DashboardUrl) -> rp.DashboardUrl:
    if hive.dashboard is None:
        raise HiveError(ErrorCode.NOT_FOUND, "the dashboard is off (HYPERHIVE_DASHBOARD=off)")
    return rp.DashboardUrl(url=hive.dashboard.login_url)


@answers(rq.AgentLogs)
async def logs(hive: Hive, req: rq.AgentLogs) -> rp.AgentLog:
    """`path` lets `hivectl logs -f` follow the file on this host (a peer's is empty: its log is its own)."""
    hive.registry.require(req.name)
    path = agent_log_path(hive.settings.state_dir, req.name)
    return rp.AgentLog(lines=await asyncio.to_thread(tail_lines, path, req.lines), path=str(path))


@answers(rq.RollbackConfig)
async def rollback(hive: Hive, req: rq.RollbackConfig) -> rp.Approvals:
    return rp.Approvals(approvals=[views.approval(await hive.deployments.rollback(OPERATOR, req.name))])



@answers(rq.SandboxShell)
async def sandbox_shell(hive: Hive, req: rq.SandboxShell) -> rp.SandboxEntry:
    if hive.registry.require(req.name).kind != "managed":
        raise HiveError(ErrorCode.CONFLICT, f"{req.name} is a peer: the hive runs no sandbox for it")
    entry = await sandbox_entry(hive.settings, hive.supervisor.runtime, req.name, list(req.command),
                                host_network=req.host_network)
    return rp.SandboxEntry(argv=entry.argv, env=entry.env, cwd=entry.cwd, pid=entry.pid)


@answers(rq.PauseAll)
async def pause_all(hive: Hive, req: rq.PauseAll) -> rp.Paused:
    return await kill_switch.pause_all(hive)


@answers(rq.ResumeAll)
async def resume_all(hive: Hive, req: rq.ResumeAll) -> rp.Resumed:
    return await kill_switch.resume_all(hive)


@streams(rq.SubscribeAgentStatus)
async def subscribe_agent_status(hive: Hive, conn: Connection, req: rq.SubscribeAgentStatus) -> None:
    """One bare success line, then one line per changed agent. A slow reader misses intermediate
    states of a row (changes coalesce per agent) and never holds the daemon up."""
    subscriber = hive.registry.changes.subscribe()

    async def send_rows(names: list[str]) -> None:
        for name in names:
            row = await hive.status_row(name)
            change = rp.StatusChange(agent_statuses=[row] if row else [], removed=None if row else [name])
            await conn.send(ok_response(req.req_id, **change.wire()))

    try:
        await conn.send(ok_response(req.req_id))
        await conn.stream_until_hangup(subscriber.next_batch, send_rows)
    finally:
        subscriber.close()


async def run(hive: Hive, request: rq.HostRequest[R]) -> R:
    """A host verb in process (the dashboard): the handler host.sock runs, its reply typed."""
    return cast(R, await HOST_VERBS.answers[type(request)](hive, request))


usage_report = usage.usage_report  # its own module (the gateway's meter); collected here with the rest
HOST_VERBS = VerbTable.collect(globals())
