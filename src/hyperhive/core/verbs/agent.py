"""Verbs on an agent's mcp.sock. The session knows whose socket it is; nothing in a request can change that."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hyperhive.broker import Lease
from hyperhive.protocol import MANAGER_NAME, SELF_SENDER, ErrorCode, HiveError, ok_response
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol.parsing import parse_request
from hyperhive.store import NewEvent

from ..approvals import approval_view
from ..events import TRANSCRIPT_PREFIX
from ..lineserver import Connection
from ..logs import agent_log_path, tail_lines
from ..questions import question_view
from ..schedules import schedule_view
from ..speech import agent_words
from ..views import dump_messages
from . import loose_ends as le

if TYPE_CHECKING:
    from ..parts import HiveParts as Hive  # what the verbs act on (the doors in hive.py call them)

log = logging.getLogger(__name__)
PRESENCE_ROLES = frozenset({"harness", "serve"})


class AgentSession:
    """One connection on an agent's socket."""

    def __init__(self, hive: Hive, name: str, *, manager: bool) -> None:
        self.hive = hive
        self.name = name
        self.manager = manager
        self.role: str | None = None
        self._lease: Lease | None = None
        self._handlers: dict[type[Any], Callable[[Any], Awaitable[dict[str, Any]]]] = {
            rq.Hello: self.hello,
            rq.Whoami: self.whoami,
            rq.Heartbeat: self.heartbeat,
            rq.Send: self.send,
            rq.SendBatch: self.send_batch,
            rq.Recv: self.recv,
            rq.Ack: self.ack,
            rq.InboxStatus: self.inbox_status,
            rq.SetStatus: self.set_status,
            rq.RequestNextTurn: self.request_next_turn,
            rq.GetLogs: self.get_logs,
            rq.Report: self.report,
            rq.HarnessState: self.harness_state,
            rq.Ask: self.ask,
            rq.Answer: self.answer,
            rq.Remind: self.remind,
            rq.GetLooseEnds: self.get_loose_ends,
            rq.CancelLooseEnd: self.cancel_loose_end,
            rq.RequestSchedulePrompt: self.request_schedule_prompt,
            rq.ListSchedules: self.list_schedules,
            rq.CancelSchedule: self.cancel_schedule,
            rq.FireScheduleNow: self.fire_schedule_now,
            rq.RequestInitConfig: self.request_init_config,
            rq.RequestApplyCommit: self.request_apply_commit,
            rq.RequestSpawn: self.request_spawn,
            rq.ManageAgent: self.manage_agent,
            rq.ListAgentStatus: self.list_agents,
            rq.PendingApprovals: self.pending_approvals,
            rq.Rollback: self.rollback,
        }

    async def handle(self, conn: Connection, obj: dict[str, Any]) -> dict[str, Any] | None:
        request = parse_request(rq.AGENT_REQUEST, obj)
        self.hive.registry.require(self.name)  # an unregistered agent's socket answers nothing else
        if request.cmd in rq.MANAGER_ONLY and not self.manager:
            raise HiveError(ErrorCode.NOT_ALLOWED, f"{request.cmd} is the manager's: only {MANAGER_NAME}'s "
                                                   "manager.sock takes it")
        if isinstance(request, rq.ControlStream):
            await self.control_stream(conn, request)
            return None
        if isinstance(request, rq.WatchInbox):
            await self.watch_inbox(conn, request)
            return None
        if isinstance(request, rq.ToolPrompt):  # answered when the operator has, on this connection
            await self.hive.tool_prompts.serve(self.name, conn, request)
            return None
        result = await self._handlers[type(request)](request)
        return ok_response(request.req_id, **result)

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
    async def hello(self, req: rq.Hello) -> dict[str, Any]:
        if self.role is None and req.role in PRESENCE_ROLES:
            await self.hive.registry.connected(self.name)
        self.role = req.role
        return await self.whoami(req)

    async def whoami(self, req: Any) -> dict[str, Any]:
        agent = self.hive.registry.require(self.name)
        return {"name": self.name, "kind": agent.kind, "manager": self.manager, "active_model": agent.active_model,
                "paused": agent.paused}

    async def heartbeat(self, req: rq.Heartbeat) -> dict[str, Any]:
        await self.hive.registry.heartbeat(self.name)
        return {}

    async def send(self, req: rq.Send) -> dict[str, Any]:
        stored = await self.hive.broker.send(self.name, req.to, req.body, req.in_reply_to)
        return {"id": stored[0].id, "ids": [m.id for m in stored], "recipients": [m.recipient for m in stored]}

    async def send_batch(self, req: rq.SendBatch) -> dict[str, Any]:
        items = [(m.to, m.body, m.in_reply_to) for m in req.messages]
        stored = await self.hive.broker.send_many(self.name, items)
        return {"results": [{"id": group[0].id, "ids": [m.id for m in group],
                             "recipients": [m.recipient for m in group]} for group in stored]}

    async def recv(self, req: rq.Recv) -> dict[str, Any]:
        if self._lease is None:
            self._lease = self.hive.broker.open_lease(self.name)
        # Pause holds the turn loop only; the agent's own `recv` tool still reads its mail.
        held = self._paused if self.role == "harness" else None
        messages, pending = await self.hive.broker.recv(self._lease, req.max, req.wait_seconds, ack=req.ack, held=held)
        return {"messages": dump_messages(messages), "pending": pending}

    async def ack(self, req: rq.Ack) -> dict[str, Any]:
        return {"acked": await self.hive.broker.ack(self.name, req.ids)}

    async def inbox_status(self, req: rq.InboxStatus) -> dict[str, Any]:
        return {
            "pending": await self.hive.broker.pending_count(self.name),
            "unread": await self.hive.store.count_unacked(self.name),
        }

    async def set_status(self, req: rq.SetStatus) -> dict[str, Any]:
        text = req.text or None
        await self.hive.registry.update(
            self.name, status_text=text, status_set_at=time.time() if text is not None else None
        )
        return {"status_text": text}

    async def request_next_turn(self, req: rq.RequestNextTurn) -> dict[str, Any]:
        body = req.note or "You asked for another turn: carry on with what you were doing."
        stored = await self.hive.broker.deliver(SELF_SENDER, [self.name], body)
        return {"id": stored[0].id}

    async def get_logs(self, req: rq.GetLogs) -> dict[str, Any]:
        path = agent_log_path(self.hive.settings.state_dir, self.name)
        return {"lines": await asyncio.to_thread(tail_lines, path, req.lines)}

    async def report(self, req: rq.Report) -> dict[str, Any]:
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
        return {"seqs": [e.seq for e in stored]}

    async def _parked(self, end: rq.TurnEndPayload) -> None:
        """Only a message of this agent's own inbox can be parked; who sent it is the store's word."""
        message = await self.hive.store.get_message(end.id) if end.id is not None else None
        if message is None or message.recipient != self.name:
            log.warning("%s reported message #%s parked, which is not in its inbox: not passed on", self.name, end.id)
            return
        await self.hive.notify("message_parked", self.name, {
            "message_id": message.id, "from": message.sender, "note": agent_words(self.name, end.note)},
            caused_by=self.name)

    async def _track_turn(self, kind: str, payload: dict[str, Any]) -> None:
        """The gateway meters each call against the turn in hand (the message id the turn answers); the
        loop breaker counts turn starts."""
        if kind == "turn_start" and isinstance(payload.get("id"), int):
            self.hive.gateway.spend.turn_started(self.name, payload["id"])
            await self.hive.loop_breaker.turn_started(self.name)
        elif kind == "turn_end":
            self.hive.gateway.spend.turn_ended(self.name)
        else:
            return
        self.hive.registry.changes.changed(self.name)  # the row's turn cost starts or ends

    async def harness_state(self, req: rq.HarnessState) -> dict[str, Any]:
        changes: dict[str, Any] = {}
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
        return {}

    async def control_stream(self, conn: Connection, req: rq.ControlStream) -> None:
        """One bare ok line, then one line per operator control until the harness hangs up."""
        queue = self.hive.controls.open(self.name)

        async def send_control(control: dict[str, Any]) -> None:
            await conn.send(ok_response(req.req_id, **control))

        try:
            await conn.send(ok_response(req.req_id))
            await conn.stream_until_hangup(queue.get, send_control)
        finally:
            self.hive.controls.close(self.name, queue)

    async def ask(self, req: rq.Ask) -> dict[str, Any]:
        q = await self.hive.questions.ask(self.name, req.question, list(req.options), req.multi, req.ttl_seconds,
                                          req.to)
        return {"question": question_view(q)}

    async def answer(self, req: rq.Answer) -> dict[str, Any]:
        return {"question": question_view(await self.hive.questions.answer(req.id, req.answer, self.name))}

    async def remind(self, req: rq.Remind) -> dict[str, Any]:
        reminder = await self.hive.reminders.add(self.name, req.message, le.due_time(req.delay_seconds, req.at))
        return {"reminder": le.reminder_view(reminder)}

    async def get_loose_ends(self, req: rq.GetLooseEnds) -> dict[str, Any]:
        """The manager sees the whole hive's; every other agent its own."""
        return {"loose_ends": await le.loose_ends(self.hive, None if self.manager else self.name)}

    async def cancel_loose_end(self, req: rq.CancelLooseEnd) -> dict[str, Any]:
        return await le.cancel_loose_end(self.hive, req.kind, req.id, None if self.manager else self.name)

    async def request_schedule_prompt(self, req: rq.RequestSchedulePrompt) -> dict[str, Any]:
        schedule, approval = await self.hive.schedules.request(
            self.name, req.targets, req.body, le.due_time(None, req.first_fire_at), req.interval_seconds,
            req.description)
        return {"schedule": schedule_view(schedule), "approval": approval_view(approval)}

    async def list_schedules(self, req: rq.ListSchedules) -> dict[str, Any]:
        found = await self.hive.store.list_schedules(["awaiting_approval", "active", "paused"])
        return {"schedules": [schedule_view(s) for s in found if self.hive.schedules.visible_to(s, self.name)]}

    async def cancel_schedule(self, req: rq.CancelSchedule) -> dict[str, Any]:
        return {"schedule": schedule_view(await self.hive.schedules.cancel(req.id, self.name, req.targets))}

    async def fire_schedule_now(self, req: rq.FireScheduleNow) -> dict[str, Any]:
        return {"schedule": schedule_view(await self.hive.schedules.fire_now(req.id, self.name))}

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

    async def _inbox_line(self, req: rq.WatchInbox) -> dict[str, Any]:
        newest = await self.hive.store.inbox_messages(self.name, 1, unread_only=True)
        preview = [{"id": m.id, "sender": m.sender, "preview": m.body[:200]} for m in newest]
        return ok_response(req.req_id, unread=await self.hive.store.count_unacked(self.name),
                           newest=preview[0] if preview else None)

    # --- the manager's ----------------------------------------------------------------------------
    async def request_init_config(self, req: rq.RequestInitConfig) -> dict[str, Any]:
        approval = await self.hive.deployments.request_init_config(self.name, req.name, req.description)
        return {"approval": approval_view(approval)}

    async def request_apply_commit(self, req: rq.RequestApplyCommit) -> dict[str, Any]:
        approval = await self.hive.deployments.request_apply_commit(self.name, req.agent, req.commit_ref,
                                                                    req.description)
        return {"approval": approval_view(approval)}

    async def request_spawn(self, req: rq.RequestSpawn) -> dict[str, Any]:
        approval = await self.hive.deployments.request_spawn(self.name, req.name, req.description)
        return {"approval": approval_view(approval)}

    async def manage_agent(self, req: rq.ManageAgent) -> dict[str, Any]:
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
        return {"agent_statuses": [row.model_dump(mode="json")] if row else []}

    async def list_agents(self, req: rq.ListAgentStatus) -> dict[str, Any]:
        return {"agent_statuses": [row.model_dump(mode="json") for row in await self.hive.status_rows()]}

    async def pending_approvals(self, req: rq.PendingApprovals) -> dict[str, Any]:
        found = await self.hive.store.list_approvals(None if req.all else "pending", limit=200)
        return {"approvals": [approval_view(a) for a in found]}

    async def rollback(self, req: rq.Rollback) -> dict[str, Any]:
        return {"approval": approval_view(await self.hive.deployments.rollback(self.name, req.agent))}

    def _paused(self) -> bool:
        agent = self.hive.registry.get(self.name)
        return agent is not None and agent.paused
