"""host.sock verbs, one function each. Lifecycle, approvals and loose ends add their own modules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

import hyperhive
from hyperhive.config import AgentConfig, ConfigError, dump_agent_config, load_agent_config, render_template
from hyperhive.protocol import OPERATOR, ErrorCode, HiveError, rfc3339
from hyperhive.protocol import host_requests as rq
from hyperhive.store import AgentRecord

from .. import kill_switch
from ..approvals import approval_view
from ..logs import agent_log_path, tail_lines
from ..questions import question_view
from ..sandbox_entry import sandbox_entry
from ..schedules import schedule_view
from ..views import dump_messages, event_view
from . import loose_ends as le
from .usage import usage_report

if TYPE_CHECKING:
    from ..parts import HiveParts as Hive  # what the verbs act on (the doors in hive.py call them)

Verb = Callable[["Hive", Any], Awaitable[dict[str, Any]]]


async def ping(hive: Hive, req: rq.Ping) -> dict[str, Any]:
    return {"pong": True, "daemon_version": hyperhive.__version__}


async def list_agents(hive: Hive, req: rq.ListAgents) -> dict[str, Any]:
    return {"agents": hive.registry.agent_names()}


async def agent_status(hive: Hive, req: rq.AgentStatus) -> dict[str, Any]:
    rows = await hive.status_rows(req.names)
    return {"agent_statuses": [row.model_dump(mode="json") for row in rows]}


async def urls(hive: Hive, req: rq.GetUrls) -> dict[str, Any]:
    return {"urls": hive.urls()}


async def set_paused(hive: Hive, req: rq.SetPaused) -> dict[str, Any]:
    await hive.registry.update(req.name, paused=req.paused)
    if not req.paused:
        hive.loop_breaker.forget(req.name)  # a resume lifts the loop breaker's pause and its count
    hive.broker.inboxes.notify(req.name)  # a harness waiting to resume wakes at once
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=[req.name]))


async def send(hive: Hive, req: rq.OperatorSend) -> dict[str, Any]:
    stored = await hive.broker.send(OPERATOR, req.to, req.body, req.in_reply_to)
    return {"id": stored[0].id, "ids": [m.id for m in stored], "recipients": [m.recipient for m in stored]}


async def inbox(hive: Hive, req: rq.OperatorInbox) -> dict[str, Any]:
    messages = await hive.store.inbox_messages(OPERATOR, req.limit, req.unread_only)
    return {"messages": dump_messages(messages), "unread": await hive.store.count_unacked(OPERATOR)}


async def ack(hive: Hive, req: rq.OperatorAck) -> dict[str, Any]:
    return {"acked": await hive.broker.ack(OPERATOR, req.ids)}


async def recent(hive: Hive, req: rq.RecentMessages) -> dict[str, Any]:
    return {"messages": dump_messages(await hive.store.recent_messages(req.limit, req.before_id))}


async def register_peer(hive: Hive, req: rq.RegisterPeer) -> dict[str, Any]:
    await hive.registry.add(AgentRecord(name=req.name, kind="peer", created_at=time.time(),
                                        description=req.description, node=hive.settings.node))
    await hive.agent_sockets.open(req.name)
    socket_dir = hive.settings.agent_socket_dir(req.name)
    rows = await hive.status_rows([req.name])
    return {
        "agent_statuses": [rows[0].model_dump(mode="json")],
        "socket_dir": str(socket_dir),
        "bind_mount": f"{socket_dir}:/run/hive",
    }


async def unregister_peer(hive: Hive, req: rq.UnregisterPeer) -> dict[str, Any]:
    agent = hive.registry.require(req.name)
    if agent.kind != "peer":
        raise HiveError(ErrorCode.NOT_ALLOWED,
                        f"{req.name!r} is a managed agent, not a peer: use destroy to remove it")
    await hive.agent_sockets.close(req.name, remove_dir=True)
    await hive.registry.remove(req.name)
    return {"agents": hive.registry.agent_names()}


async def events(hive: Hive, req: rq.Events) -> dict[str, Any]:
    found = await hive.store.events_after(req.after_seq, req.agent, req.kinds, req.limit)
    return {"events": [event_view(e).model_dump(mode="json") for e in found]}


async def interrupt(hive: Hive, req: rq.Interrupt) -> dict[str, Any]:
    hive.registry.require(req.name)
    hive.controls.push(req.name, {"control": "interrupt"})
    return {}


async def set_model(hive: Hive, req: rq.SetModel) -> dict[str, Any]:
    """Kept on the agent's record, so a harness that starts later uses it too."""
    hive.registry.require(req.name)
    config = hive.deployments.deployed(req.name)
    if config is not None and config.available_models and req.model not in config.available_models:
        raise HiveError(ErrorCode.NOT_ALLOWED, f"{req.name} may run on {', '.join(config.available_models)}; "
                                               f"{req.model!r} is not in its available_models (agent.toml)")
    await hive.registry.update(req.name, active_model=req.model)
    if hive.controls.connected(req.name):
        hive.controls.push(req.name, {"control": "set_model", "model": req.model})
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=[req.name]))


async def new_session(hive: Hive, req: rq.NewSession) -> dict[str, Any]:
    hive.registry.require(req.name)
    hive.controls.push(req.name, {"control": "new_session"})
    return {}


async def compact(hive: Hive, req: rq.Compact) -> dict[str, Any]:
    hive.registry.require(req.name)
    hive.controls.push(req.name, {"control": "compact"})
    return {}


async def logged_in(hive: Hive, req: rq.LoggedIn) -> dict[str, Any]:
    was_waiting = hive.registry.require(req.name).needs_login
    await hive.registry.update(req.name, needs_login=False)
    if hive.controls.connected(req.name):
        hive.controls.push(req.name, {"control": "logged_in"})
    if was_waiting:
        await hive.notify("logged_in", req.name, {})
    else:
        await hive.events.append("logged_in", req.name)
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=[req.name]))


async def questions(hive: Hive, req: rq.ListQuestions) -> dict[str, Any]:
    found = await hive.store.questions(status=req.status, limit=req.limit)
    return {"questions": [question_view(q) for q in found]}


async def answer(hive: Hive, req: rq.AnswerQuestion) -> dict[str, Any]:
    return {"question": question_view(await hive.questions.answer(req.id, req.answer, OPERATOR))}


async def cancel_question(hive: Hive, req: rq.CancelQuestion) -> dict[str, Any]:
    return await le.cancel_loose_end(hive, "question", req.id, None)


async def reminders(hive: Hive, req: rq.ListReminders) -> dict[str, Any]:
    return {"reminders": [le.reminder_view(r) for r in hive.reminders.pending(req.agent)]}


async def cancel_reminder(hive: Hive, req: rq.CancelReminder) -> dict[str, Any]:
    return await le.cancel_loose_end(hive, "reminder", req.id, None)


async def loose_ends(hive: Hive, req: rq.LooseEnds) -> dict[str, Any]:
    return {"loose_ends": await le.loose_ends(hive, req.agent)}


async def pending(hive: Hive, req: rq.Pending) -> dict[str, Any]:
    found = await hive.store.list_approvals(req.status, req.kind, req.agent, req.limit)
    return {"approvals": [approval_view(a) for a in found]}


async def show_approval(hive: Hive, req: rq.ShowApproval) -> dict[str, Any]:
    found = await hive.store.get_approval(req.id)
    if found is None:
        raise HiveError(ErrorCode.NOT_FOUND, f"no approval #{req.id}")
    return {"approvals": [approval_view(found)]}


async def approve(hive: Hive, req: rq.Approve) -> dict[str, Any]:
    return {"approvals": [approval_view(await hive.approvals.approve(req.id))]}


async def deny(hive: Hive, req: rq.Deny) -> dict[str, Any]:
    return {"approvals": [approval_view(await hive.approvals.deny(req.id, req.note))]}


async def approve_always(hive: Hive, req: rq.ApproveAlways) -> dict[str, Any]:
    approved, change = await hive.tool_prompts.approve_always(req.id)
    return {"approvals": [approval_view(approved), approval_view(change)]}


async def schedules(hive: Hive, req: rq.ListSchedules) -> dict[str, Any]:
    statuses = None if req.all else ["awaiting_approval", "active", "paused"]
    return {"schedules": [schedule_view(s) for s in await hive.store.list_schedules(statuses)]}  # type: ignore[arg-type]


async def create_schedule(hive: Hive, req: rq.CreateSchedule) -> dict[str, Any]:
    first = le.due_time(None, req.first_fire_at)
    created = await hive.schedules.create(req.targets, req.body, first, req.interval_seconds, req.description)
    return {"schedule": schedule_view(created)}


async def update_schedule(hive: Hive, req: rq.UpdateSchedule) -> dict[str, Any]:
    fields = req.model_dump(exclude_none=True, exclude={"cmd", "id", "req_id", "version"})
    if "next_fire_at" in fields:
        fields["next_fire_at"] = le.due_time(None, fields["next_fire_at"])
    return {"schedule": schedule_view(await hive.schedules.update(req.id, **fields))}


async def set_schedule_paused(hive: Hive, req: rq.SetSchedulePaused) -> dict[str, Any]:
    return {"schedule": schedule_view(await hive.schedules.set_paused(req.id, req.paused))}


async def cancel_schedule(hive: Hive, req: rq.CancelSchedule) -> dict[str, Any]:
    return {"schedule": schedule_view(await hive.schedules.cancel(req.id, None, req.targets))}


async def fire_schedule(hive: Hive, req: rq.FireSchedule) -> dict[str, Any]:
    return {"schedule": schedule_view(await hive.schedules.fire_now(req.id, None))}


async def _each(hive: Hive, req: rq.Scoped, action: Callable[[str], Awaitable[None]]) -> dict[str, Any]:
    """Run a lifecycle action on each agent of the scope (`all`: the managed, living ones); every name is
    checked before anything is done."""
    every = [a.name for a in hive.registry.all() if a.kind == "managed" and a.lifecycle != "destroyed"]
    names = req.names(every)
    for name in names:
        hive.supervisor.managed(name)  # unknown names and peers are refused before any action
    for name in names:
        await action(name)
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=names or None))


async def start(hive: Hive, req: rq.Start) -> dict[str, Any]:
    return await _each(hive, req, hive.supervisor.start_agent)


async def stop(hive: Hive, req: rq.Stop) -> dict[str, Any]:
    return await _each(hive, req, hive.supervisor.stop_agent if req.graceful else hive.supervisor.kill_agent)


async def restart(hive: Hive, req: rq.Restart) -> dict[str, Any]:
    return await _each(hive, req, hive.supervisor.restart_agent)


async def kill(hive: Hive, req: rq.Kill) -> dict[str, Any]:
    return await _each(hive, req, hive.supervisor.kill_agent)


async def rebuild(hive: Hive, req: rq.Rebuild) -> dict[str, Any]:
    if req.refresh:
        await hive.images.refresh(rfc3339(time.time()) or "")
    why = "the operator rebuilt it" + (" on images refreshed from the mirror" if req.refresh else "")
    return await _each(hive, req, lambda name: hive.supervisor.restart_agent(name, why))


async def images(hive: Hive, req: rq.Images) -> dict[str, Any]:
    return {"images": await hive.image_usage.rows(), "image_dir": str((await hive.images.store()).root)}


async def destroy(hive: Hive, req: rq.Destroy) -> dict[str, Any]:
    names = req.names([a.name for a in hive.registry.all() if a.kind == "managed"])
    for name in names:
        hive.supervisor.managed(name)
    for name in names:
        await hive.supervisor.destroy_agent(name, req.purge)
    return {"agents": hive.registry.agent_names()}


async def revive(hive: Hive, req: rq.Revive) -> dict[str, Any]:
    await hive.supervisor.revive_agent(req.name)
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=[req.name]))


async def spawn(hive: Hive, req: rq.Spawn) -> dict[str, Any]:
    config = req.config
    if req.allow:
        config = with_recipients(req.name, req.description, config, req.allow)
    try:
        await hive.deployments.spawn_now(req.name, req.description, config)
    except ConfigError as exc:  # the given agent.toml: its loader's sentence is the answer
        raise HiveError(ErrorCode.BAD_REQUEST, str(exc)) from None
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=[req.name]))


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


async def set_parent(hive: Hive, req: rq.SetParent) -> dict[str, Any]:
    await hive.registry.set_parent(req.name, req.parent)
    await hive.events.append("parent_set", req.name, {"parent": req.parent})
    return await agent_status(hive, rq.AgentStatus(cmd="agent_status", names=[req.name]))


async def request_spawn(hive: Hive, req: rq.RequestSpawn) -> dict[str, Any]:
    approval = await hive.deployments.request_spawn(OPERATOR, req.name, req.description)
    return {"approvals": [approval_view(approval)]}


async def dashboard_url(hive: Hive, req: rq.DashboardUrl) -> dict[str, Any]:
    if hive.dashboard is None:
        raise HiveError(ErrorCode.NOT_FOUND, "the dashboard is off (HYPERHIVE_DASHBOARD=off)")
    return {"url": hive.dashboard.login_url}


async def logs(hive: Hive, req: rq.AgentLogs) -> dict[str, Any]:
    """`path` lets `hivectl logs -f` follow the file on this host (a peer's is empty: its log is its own)."""
    hive.registry.require(req.name)
    path = agent_log_path(hive.settings.state_dir, req.name)
    return {"lines": await asyncio.to_thread(tail_lines, path, req.lines), "path": str(path)}


async def rollback(hive: Hive, req: rq.RollbackConfig) -> dict[str, Any]:
    return {"approvals": [approval_view(await hive.deployments.rollback(OPERATOR, req.name))]}



async def sandbox_shell(hive: Hive, req: rq.SandboxShell) -> dict[str, Any]:
    if hive.registry.require(req.name).kind != "managed":
        raise HiveError(ErrorCode.CONFLICT, f"{req.name} is a peer: the hive runs no sandbox for it")
    entry = await sandbox_entry(hive.settings, hive.supervisor.runtime, req.name, list(req.command),
                                host_network=req.host_network)
    return {"argv": entry.argv, "env": entry.env, "cwd": entry.cwd, "pid": entry.pid}


HOST_VERBS: dict[type[Any], Verb] = {
    rq.Ping: ping,
    rq.ListAgents: list_agents,
    rq.AgentStatus: agent_status,
    rq.GetUrls: urls,
    rq.SetPaused: set_paused,
    rq.OperatorSend: send,
    rq.OperatorInbox: inbox,
    rq.OperatorAck: ack,
    rq.RecentMessages: recent,
    rq.RegisterPeer: register_peer,
    rq.UnregisterPeer: unregister_peer,
    rq.Events: events,
    rq.Interrupt: interrupt,
    rq.SetModel: set_model,
    rq.NewSession: new_session,
    rq.Compact: compact,
    rq.LoggedIn: logged_in,
    rq.ListQuestions: questions,
    rq.AnswerQuestion: answer,
    rq.CancelQuestion: cancel_question,
    rq.ListReminders: reminders,
    rq.CancelReminder: cancel_reminder,
    rq.LooseEnds: loose_ends,
    rq.Pending: pending,
    rq.ShowApproval: show_approval,
    rq.Approve: approve,
    rq.Deny: deny,
    rq.ApproveAlways: approve_always,
    rq.ListSchedules: schedules,
    rq.CreateSchedule: create_schedule,
    rq.UpdateSchedule: update_schedule,
    rq.SetSchedulePaused: set_schedule_paused,
    rq.CancelSchedule: cancel_schedule,
    rq.FireSchedule: fire_schedule,
    rq.Start: start,
    rq.Stop: stop,
    rq.Restart: restart,
    rq.Kill: kill,
    rq.Rebuild: rebuild,
    rq.Images: images,
    rq.Destroy: destroy,
    rq.Revive: revive,
    rq.Spawn: spawn,
    rq.RequestSpawn: request_spawn,
    rq.DashboardUrl: dashboard_url,
    rq.RollbackConfig: rollback,
    rq.AgentLogs: logs,
    rq.SetParent: set_parent,
    rq.SandboxShell: sandbox_shell,
    rq.UsageReport: usage_report,
    rq.PauseAll: lambda hive, req: kill_switch.pause_all(hive),
    rq.ResumeAll: lambda hive, req: kill_switch.resume_all(hive),
}
