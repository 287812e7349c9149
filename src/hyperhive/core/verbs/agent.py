"""Verbs on an agent's mcp.sock. The session knows whose socket it is; nothing in a request can change that."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from hyperhive.broker import Lease
from hyperhive.protocol import MANAGER_NAME, SELF_SENDER, ErrorCode, HiveError, ok_response
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol import replies as rp
from hyperhive.protocol.parsing import parse_request
from hyperhive.store import NewEvent

from .. import views
from ..events import TRANSCRIPT_PREFIX
from ..lineserver import Connection
from ..logs import agent_log_path, tail_lines
from ..speech import agent_words
from . import loose_ends as le
from .table import VerbTable, answers, streams

if TYPE_CHECKING:
    from ..parts import HiveParts as Hive  # what the verbs act on (the doors in hive.py call them)

log = logging.getLogger(__name__)
PRESENCE_ROLES = frozenset({"harness", "serve"})


class _HarnessFields(TypedDict, total=False):
    """The fields of an agent's record its harness reports (`harness_state`)."""

    active_model: str
    needs_login: bool


class AgentSession:
    """One connection on an agent's socket."""

    def __init__(self, hive: Hive, name: str, *, manager: bool) -> None:
        self.hive = hive
        self.name = name
        self.manager = manager
        self.role: str | None = None
        self._lease: Lease | None = None

    async def handle(self, conn: Connection, obj: dict[str, object]) -> dict[str, object] | None:
        """`obj`: the request line's JSON object, not yet read as a request."""
        request = parse_request(rq.AGENT_REQUEST, obj)
        self.hive.registry.require(self.name)  # an unregistered agent's socket answers nothing else
        cmd = type(request).verb_name()
        if cmd in rq.MANAGER_ONLY and not self.manager:
            raise HiveError(ErrorCode.NOT_ALLOWED, f"{cmd} is the manager's: only {MANAGER_NAME}'s "
                                                   "manager.sock takes it")
        return await AGENT_VERBS.dispatch(self, conn, request)

    async def closed(self) -> None:
        if self._lease is not None:
            self.hive.broker.close_lease(self._lease)
        if self.role in PRESENCE_ROLES:
            await self.hive.registry.disconnected(self.name)
        if self.role == "harness" and self.hive.registry.get(self.name) is not None:
            self.hive.registry.set_activity(self.name, None)
        if self.role == "harness":
            await self.hive.tool_prompts.harness_gone(self.name)

    # --- verbs ------------------------------------------------------------------------------------
    @answers(rq.Hello)
    async def hello(self, req: rq.Hello) -> rp.Identity:
        if self.role is None and req.role in PRESENCE_ROLES:
            await self.hive.registry.connected(self.name)
        self.role = req.role
        return await self.whoami(req)

    @answers(rq.Whoami)
    async def whoami(self, req: rq.Whoami | rq.Hello) -> rp.Identity:
        agent = self.hive.registry.require(self.name)
        return rp.Identity(name=self.name, kind=agent.kind, manager=self.manager, active_model=agent.active_model,
                           paused=agent.paused)

    @answers(rq.Heartbeat)
    async def heartbeat(self, req: rq.Heartbeat) -> rp.Done:
        await self.hive.registry.heartbeat(self.name)
        return rp.Done()

    @answers(rq.Send)
    async def send(self, req: rq.Send) -> rp.Sent:
        stored = await self.hive.broker.send(self.name, req.to, req.body, req.in_reply_to)
        return views.sent(stored)

    @answers(rq.SendBatch)
    async def send_batch(self, req: rq.SendBatch) -> rp.SentBatch:
        items = [(m.to, m.body, m.in_reply_to) for m in req.messages]
        stored = await self.hive.broker.send_many(self.name, items)
        return rp.SentBatch(results=[views.sent(group) for group in stored])

    @answers(rq.Recv)
    async def recv(self, req: rq.Recv) -> rp.Received:
        if self._lease is None:
            self._lease = self.hive.broker.open_lease(self.name)
        # Pause holds the turn loop only; the agent's own `recv` tool still reads its mail.
        held = self._paused if self.role == "harness" else None
        messages, pending = await self.hive.broker.recv(self._lease, req.max, req.wait_seconds, ack=req.ack, held=held)
        return rp.Received(messages=views.messages(messages), pending=pending)

    @answers(rq.Ack)
    async def ack(self, req: rq.Ack) -> rp.Acked:
        return rp.Acked(acked=await self.hive.broker.ack(self.name, req.ids))

    @answers(rq.InboxStatus)
    async def inbox_status(self, req: rq.InboxStatus) -> rp.InboxCounts:
        return rp.InboxCounts(pending=await self.hive.broker.pending_count(self.name),
                              unread=await self.hive.store.count_unacked(self.name))

    @answers(rq.SetStatus)
    async def set_status(self, req: rq.SetStatus) -> rp.StatusText:
        text = req.text or None
        await self.hive.registry.update(
            self.name, status_text=text, status_set_at=time.time() if text is not None else None
        )
        return rp.StatusText(status_text=text)

    @answers(rq.RequestNextTurn)
    async def request_next_turn(self, req: rq.RequestNextTurn) -> rp.Queued:
        body = req.note or "You asked for another turn: carry on with what you were doing."
        stored = await self.hive.broker.deliver(SELF_SENDER, [self.name], body)
        return rp.Queued(id=stored[0].id)

    @answers(rq.GetLogs)
    async def get_logs(self, req: rq.GetLogs) -> rp.LogLines:
        path = agent_log_path(self.hive.settings.state_dir, self.name)
        return rp.LogLines(lines=await asyncio.to_thread(tail_lines, path, req.lines))

    @answers(rq.Report)
    async def report(self, req: rq.Report) -> rp.Seqs:
        """Events are validated by kind (protocol); a parked turn tells hm1nd and the operator, in the
        hive's words but for the note, which is quoted as the agent's."""
        stored = await self.hive.events.append_many(
            [NewEvent(TRANSCRIPT_PREFIX + e.kind, self.name, e.payload) for e in req.events]
        )
        for e in req.events:
            await self._track_turn(e.kind, e.payload)
            end = e.typed()
            if isinstance(end, rq.TurnEndPayload) and end.parked:
                await self._parked(end)
        return rp.Seqs(seqs=[e.seq for e in stored])

    async def _parked(self, end: rq.TurnEndPayload) -> None:
        """Only a message of this agent's own inbox can be parked; who sent it is the store's word."""
        message = await self.hive.store.get_message(end.id) if end.id is not None else None
        if message is None or message.recipient != self.name:
            log.warning("%s reported message #%s parked, which is not in its inbox: not passed on", self.name, end.id)
            return
        await self.hive.notify("message_parked", self.name, {
            "message_id": message.id, "from": message.sender, "note": agent_words(self.name, end.note)},
            caused_by=self.name)

    async def _track_turn(self, kind: str, payload: Mapping[str, object]) -> None:
        """The gateway meters each call against the turn in hand (the message id the turn answers); the
        loop breaker counts turn starts."""
        message_id = payload.get("id")
        if kind == "turn_start" and isinstance(message_id, int):
            self.hive.gateway.spend.turn_started(self.name, message_id)
            await self.hive.loop_breaker.turn_started(self.name)
        elif kind == "turn_end":
            self.hive.gateway.spend.turn_ended(self.name)
        else:
            return
        self.hive.registry.changes.changed(self.name)  # the row's turn cost starts or ends

    @answers(rq.HarnessState)
    async def harness_state(self, req: rq.HarnessState) -> rp.Done:
        changes: _HarnessFields = {}
        if req.model is not None:
            changes["active_model"] = req.model
        was = self.hive.registry.require(self.name).needs_login
        login_changed = req.needs_login is not None and req.needs_login != was
        if req.needs_login is not None:
            changes["needs_login"] = req.needs_login
        if changes:
            await self.hive.registry.update(self.name, **changes)
        self.hive.registry.set_activity(self.name, req.activity, req.detail)
        if login_changed:  # the manager and the operator hear of it, as in the original
            await self.hive.notify("needs_login" if req.needs_login else "logged_in", self.name,
                                   {"command": f"hivectl login {self.name}"} if req.needs_login else {})
        return rp.Done()

    @streams(rq.ControlStream)
    async def control_stream(self, conn: Connection, req: rq.ControlStream) -> None:
        """One bare ok line, then one line per operator control until the harness hangs up."""
        queue = self.hive.controls.open(self.name)

        async def send_control(control: rp.Control) -> None:
            await conn.send(ok_response(req.req_id, **control.wire()))

        try:
            await conn.send(ok_response(req.req_id))
            await conn.stream_until_hangup(queue.get, send_control)
        finally:
            self.hive.controls.close(self.name, queue)

    @answers(rq.Ask)
    async def ask(self, req: rq.Ask) -> rp.QuestionReply:
        return views.question_reply(await self.hive.questions.ask(
            self.name, req.question, list(req.options), req.multi, req.ttl_seconds, req.to))

    @answers(rq.Answer)
    async def answer(self, req: rq.Answer) -> rp.QuestionReply:
        return views.question_reply(await self.hive.questions.answer(req.id, req.answer, self.name))

    @answers(rq.Remind)
    async def remind(self, req: rq.Remind) -> rp.ReminderReply:
        due = le.due_time(req.delay_seconds, req.at)
        return views.reminder_reply(await self.hive.reminders.add(self.name, req.message, due))

    @answers(rq.GetLooseEnds)
    async def get_loose_ends(self, req: rq.GetLooseEnds) -> rp.LooseEndsReply:
        """The manager sees the whole hive's; every other agent its own."""
        return await le.loose_ends(self.hive, None if self.manager else self.name)

    @answers(rq.CancelLooseEnd)
    async def cancel_loose_end(self, req: rq.CancelLooseEnd) -> rp.LooseEndCancelled:
        return await le.cancel_loose_end(self.hive, req.kind, req.id, None if self.manager else self.name)

    @answers(rq.RequestSchedulePrompt)
    async def request_schedule_prompt(self, req: rq.RequestSchedulePrompt) -> rp.ScheduleRequested:
        schedule, approval = await self.hive.schedules.request(
            self.name, req.targets, req.body, le.due_time(None, req.first_fire_at), req.interval_seconds,
            req.description)
        return rp.ScheduleRequested(schedule=views.schedule(schedule), approval=views.approval(approval))

    @answers(rq.ListSchedules)
    async def list_schedules(self, req: rq.ListSchedules) -> rp.Schedules:
        found = await self.hive.store.list_schedules(["awaiting_approval", "active", "paused"])
        visible = [s for s in found if self.hive.schedules.visible_to(s, self.name)]
        return rp.Schedules(schedules=[views.schedule(s) for s in visible])

    @answers(rq.CancelSchedule)
    async def cancel_schedule(self, req: rq.CancelSchedule) -> rp.ScheduleReply:
        return views.schedule_reply(await self.hive.schedules.cancel(req.id, self.name, req.targets))

    @answers(rq.FireScheduleNow)
    async def fire_schedule_now(self, req: rq.FireScheduleNow) -> rp.ScheduleReply:
        return views.schedule_reply(await self.hive.schedules.fire_now(req.id, self.name))

    @streams(rq.WatchInbox)
    async def watch_inbox(self, conn: Connection, req: rq.WatchInbox) -> None:
        inboxes = self.hive.broker.inboxes
        arrived = inboxes.arrival(self.name)

        async def next_arrival() -> None:
            nonlocal arrived
            await arrived.wait()
            arrived = inboxes.arrival(self.name)  # before reading: no arrival slips by

        async def send_line(_: None) -> None:
            await conn.send(await self._inbox_line(req))

        await send_line(None)  # the newest unread too: it may have come meanwhile
        await conn.stream_until_hangup(next_arrival, send_line)

    async def _inbox_line(self, req: rq.WatchInbox) -> dict[str, object]:
        newest = await self.hive.store.inbox_messages(self.name, 1, unread_only=True)
        preview = [rp.Newest(id=m.id, sender=m.sender, preview=m.body[:200]) for m in newest]
        news = rp.InboxNews(unread=await self.hive.store.count_unacked(self.name),
                            newest=preview[0] if preview else None)
        return ok_response(req.req_id, **news.wire())

    @streams(rq.ToolPrompt)
    async def tool_prompt(self, conn: Connection, req: rq.ToolPrompt) -> None:
        """Answered when the operator has decided, on this connection."""
        await self.hive.tool_prompts.serve(self.name, conn, req)

    # --- the manager's ----------------------------------------------------------------------------
    @answers(rq.RequestInitConfig)
    async def request_init_config(self, req: rq.RequestInitConfig) -> rp.ApprovalReply:
        return views.approval_reply(await self.hive.deployments.request_init_config(self.name, req.name,
                                                                                   req.description))

    @answers(rq.RequestApplyCommit)
    async def request_apply_commit(self, req: rq.RequestApplyCommit) -> rp.ApprovalReply:
        return views.approval_reply(await self.hive.deployments.request_apply_commit(
            self.name, req.agent, req.commit_ref, req.description))

    @answers(rq.RequestSpawn)
    async def request_spawn(self, req: rq.RequestSpawn) -> rp.ApprovalReply:
        return views.approval_reply(await self.hive.deployments.request_spawn(self.name, req.name, req.description))

    @answers(rq.ManageAgent)
    async def manage_agent(self, req: rq.ManageAgent) -> rp.AgentStatuses:
        if req.name == self.name:
            raise HiveError(ErrorCode.NOT_ALLOWED, f"{self.name} cannot {req.action} itself; ask the operator")
        supervisor = self.hive.supervisor
        if req.action == "start":
            await supervisor.start_agent(req.name, why=f"{self.name} started it")
        elif req.action == "stop":
            await supervisor.stop_agent(req.name)
        else:
            await supervisor.restart_agent(req.name, why=f"{self.name} asked for an {req.action}")
        row = await self.hive.status_row(req.name)
        return rp.AgentStatuses(agent_statuses=[row] if row else [])

    @answers(rq.ListAgentStatus)
    async def list_agents(self, req: rq.ListAgentStatus) -> rp.AgentStatuses:
        return rp.AgentStatuses(agent_statuses=await self.hive.status_rows())

    @answers(rq.PendingApprovals)
    async def pending_approvals(self, req: rq.PendingApprovals) -> rp.Approvals:
        found = await self.hive.store.list_approvals(None if req.all else "pending", limit=200)
        return rp.Approvals(approvals=[views.approval(a) for a in found])

    @answers(rq.Rollback)
    async def rollback(self, req: rq.Rollback) -> rp.ApprovalReply:
        return views.approval_reply(await self.hive.deployments.rollback(self.name, req.agent))

    def _paused(self) -> bool:
        agent = self.hive.registry.get(self.name)
        return agent is not None and agent.paused


AGENT_VERBS = VerbTable.collect(vars(AgentSession))
