"""Tool permission prompts as `tool_use` approvals (the hive side of `agent/permission_prompt.py`).

A call an agent's `[tools] ask` rule matches is filed as a pending `tool_use` approval: the agent, the tool,
its exact input, the rule, and the message the turn handles. The prompt's connection waits on it: the
approval's resolution (an `approval_updated` event) wakes it, so nothing polls; past `ask_timeout_seconds`
(from the approval's filing, so a daemon restart does not extend it) it is denied, saying so. A card can
only run something while its call still waits: the waiting connection's end (an interrupt, a killed CLI), the
end of the agent's harness connection, or no prompt coming back within `REATTACH_SECONDS` of a daemon start
cancels it. Approvals keep the whole record (who, when, the input, the note) like every other kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, TypedDict

from hyperhive.config import ConfigError, RepoError
from hyperhive.config.allow_rule import commit_rule_allowed
from hyperhive.config.sections import ToolsConfig
from hyperhive.protocol import OPERATOR, ErrorCode, HiveError, ok_response
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol.replies import PermissionDecision
from hyperhive.store import ApprovalRecord, EventRecord, Store
from hyperhive.tasks import Tasks

from .approvals import Approvals, KindHandlers, WorkResult
from .deployments import Deployments
from .events import EventLog
from .lineserver import Connection
from .tool_rules import matching_rule

log = logging.getLogger(__name__)

KIND = "tool_use"
REATTACH_SECONDS = 60.0  # after a daemon start, a waiting prompt reconnects within milliseconds (inotify)
FIND_LIMIT = 200  # the newest tool_use approvals of the agent searched for a tool_use_id asked again
DESCRIBE_CHARS = 300


class TurnMessage(TypedDict):
    """The message an agent's running turn handles, kept on its tool_use approvals."""

    message_id: object
    message_from: object


def answer_for(status: str, note: str | None, tool_input: Mapping[str, object]) -> PermissionDecision:
    """The CLI's permission decision for a resolved approval (any other status than approved refuses)."""
    if status == "approved":
        return PermissionDecision(behavior="allow", updatedInput=dict(tool_input))
    if status == "denied":
        return PermissionDecision(behavior="deny", message=note or "The operator denied this call.")
    return PermissionDecision(behavior="deny", message=f"This call was not run: {note or status}.")


def describe(tool: str, tool_input: Mapping[str, object]) -> str:
    main = tool_input.get("command") or tool_input.get("url") or tool_input.get("file_path") or tool_input
    return f"{tool}: {str(main)[:DESCRIBE_CHARS]}"


class ToolPrompts:
    def __init__(self, store: Store, approvals: Approvals, deployments: Deployments, events: EventLog) -> None:
        self.store = store
        self.approvals = approvals
        self.deployments = deployments
        self._answers: dict[int, asyncio.Future[PermissionDecision]] = {}
        self._waiting: Counter[int] = Counter()
        self._reattach: dict[int, asyncio.TimerHandle] = {}
        self._current: dict[str, TurnMessage] = {}  # agent -> the message its running turn handles
        self._tasks = Tasks(log, "tool prompts")
        events.listen(self._events)

    def approval_kinds(self) -> dict[str, KindHandlers]:
        return {KIND: KindHandlers(approved=self._approved, quiet=True)}

    async def start(self) -> None:
        """Prompts pending when the last daemon died: their calls reconnect, or the cards are cancelled."""
        loop = asyncio.get_running_loop()
        for a in await self.store.list_approvals(status="pending", kind=KIND, limit=100_000):
            self._reattach[a.id] = loop.call_later(REATTACH_SECONDS, self._spawn_cancel, a.id,
                                                   "the tool call did not come back after a hive-c0re restart")

    def close(self) -> None:
        for timer in self._reattach.values():
            timer.cancel()

    # --- the prompt -------------------------------------------------------------------------------
    async def serve(self, agent: str, conn: Connection, req: rq.ToolPrompt) -> None:
        answer = await self._answer(agent, conn, req)
        if answer is not None:
            await conn.send(ok_response(req.req_id, **answer.wire()))

    async def _answer(self, agent: str, conn: Connection, req: rq.ToolPrompt) -> PermissionDecision | None:
        rules, timeout = await self._rules_of(agent, req)
        record = await self._find(agent, req.tool_use_id)
        if record is None:
            rule = matching_rule(rules, req.tool, req.input)
            if rule is None:  # the CLI prompts for any call no rule allows; only ask rules reach the operator
                return PermissionDecision(behavior="deny", message=f"No permission rule allows {req.tool} here, so "
                                                                   "it was refused (nobody was asked).")
            record = await self.approvals.request(
                KIND, agent, agent, description=describe(req.tool, req.input),
                payload={"tool": req.tool, "input": req.input, "tool_use_id": req.tool_use_id, "rule": rule,
                         "timeout_seconds": timeout, **(self._current.get(agent) or {})})
        return await self._wait(record, conn, float(record.payload.get("timeout_seconds") or timeout))

    async def _wait(self, record: ApprovalRecord, conn: Connection, timeout: float) -> PermissionDecision | None:
        tool_input = record.payload.get("input", {})
        answer = self._answers.setdefault(record.id, asyncio.get_running_loop().create_future())
        current = await self._get(record.id)  # resolved before the future existed: answer now
        if current.status != "pending":
            # Another prompt of this call may wait on the same future, and the resolution's event may still be
            # on its way (the store commits first): answer it too, or it waits on a future nobody resolves.
            if not answer.done():
                answer.set_result(answer_for(current.status, current.note, tool_input))
            self._answers.pop(record.id, None)
            return answer.result()
        self._attach(record.id)
        hangup: asyncio.Future[Any] = asyncio.ensure_future(conn.until_hangup())
        try:
            remaining = max(0.0, record.requested_at + timeout - time.time())
            waits: set[asyncio.Future[Any]] = {answer, hangup}
            await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._detach(record.id)
            hangup.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, HiveError):
                await hangup
        if answer.done():
            return answer.result()
        if hangup.done() and not hangup.cancelled():
            await self._cancel(record.id, "the tool call ended before the operator answered (the turn was "
                                          "interrupted, or its CLI stopped)")
            return None
        await self._deny(record.id, f"No answer from the operator within {timeout:g} s, so the call was refused.")
        final = await self._get(record.id)
        return answer_for(final.status, final.note, tool_input)

    # --- who waits ---------------------------------------------------------------------------------
    def _attach(self, approval_id: int) -> None:
        self._waiting[approval_id] += 1
        timer = self._reattach.pop(approval_id, None)
        if timer is not None:
            timer.cancel()

    def _detach(self, approval_id: int) -> None:
        self._waiting[approval_id] -= 1
        if self._waiting[approval_id] <= 0:
            del self._waiting[approval_id]

    async def harness_gone(self, agent: str) -> None:
        """The agent's harness hung up (it crashed, or stops): none of its prompts may run anything now."""
        for a in await self.store.list_approvals(status="pending", kind=KIND, agent=agent, limit=100_000):
            await self._cancel(a.id, "the agent's harness stopped while the call waited")

    def _spawn_cancel(self, approval_id: int, note: str) -> None:
        self._reattach.pop(approval_id, None)
        if self._waiting[approval_id] == 0:
            self._tasks.spawn(lambda: self._cancel(approval_id, note), f"cancel of approval #{approval_id}")

    # --- "allow from now on" ------------------------------------------------------------------------
    async def approve_always(self, approval_id: int) -> tuple[ApprovalRecord, ApprovalRecord]:
        """Propose the card's ask rule as an allow rule (an apply_commit approval on the agent's config repo),
        then approve the card itself: this call runs now, the next ones once the change is deployed."""
        record = await self._get(approval_id)
        if record.kind != KIND:
            raise HiveError(ErrorCode.BAD_REQUEST, f"approval #{approval_id} is a {record.kind}, not a tool_use")
        if record.status != "pending":
            raise HiveError(ErrorCode.CONFLICT, f"approval #{approval_id} is already {record.status}")
        rule = str(record.payload.get("rule") or record.payload.get("tool"))
        proposed = self.deployments.proposed(record.agent)
        if not await asyncio.to_thread(proposed.exists):
            raise HiveError(ErrorCode.NOT_FOUND, f"{record.agent} has no config repo to change: approve this "
                                                 "call once and set its rules where its config lives")
        message = f"Allow {rule} from now on (the operator, on tool_use approval #{approval_id})"
        try:
            sha = await asyncio.to_thread(commit_rule_allowed, proposed, rule, message)
        except (ConfigError, RepoError) as exc:
            raise HiveError(ErrorCode.CONFLICT, f"the allow rule cannot be proposed: {exc}") from None
        if sha is None:
            raise HiveError(ErrorCode.CONFLICT, f"{record.agent}'s config repo already allows {rule} without asking")
        change = await self.deployments.request_apply_commit(OPERATOR, record.agent, sha, message)
        return await self.approvals.approve(approval_id), change

    # --- resolutions -------------------------------------------------------------------------------
    def _events(self, events: list[EventRecord]) -> None:
        for e in events:
            if e.kind == "approval_updated" and e.payload.get("kind") == KIND and e.payload.get("status") != "pending":
                answer = self._answers.pop(int(e.payload["id"]), None)
                if answer is not None and not answer.done():
                    answer.set_result(answer_for(e.payload["status"], e.payload.get("note"),
                                                 e.payload.get("details", {}).get("input", {})))
            elif e.kind == "turn.turn_start" and e.agent:
                self._current[e.agent] = TurnMessage(message_id=e.payload.get("id"),
                                                     message_from=e.payload.get("from"))

    async def _approved(self, record: ApprovalRecord) -> WorkResult:
        return "approved", None  # the waiting call was woken by the resolution itself; the CLI runs it

    async def _cancel(self, approval_id: int, note: str) -> None:
        with contextlib.suppress(HiveError):  # already answered: nothing to undo
            await self.approvals.cancel(approval_id, None, note=note)

    async def _deny(self, approval_id: int, note: str) -> None:
        with contextlib.suppress(HiveError):
            await self.approvals.deny(approval_id, note)

    # --- lookups -----------------------------------------------------------------------------------
    async def _find(self, agent: str, tool_use_id: str) -> ApprovalRecord | None:
        for a in await self.store.list_approvals(kind=KIND, agent=agent, limit=FIND_LIMIT):
            if a.payload.get("tool_use_id") == tool_use_id:
                return a
        return None

    async def _get(self, approval_id: int) -> ApprovalRecord:
        record = await self.store.get_approval(approval_id)
        if record is None:
            raise HiveError(ErrorCode.NOT_FOUND, f"no approval #{approval_id}")
        return record

    async def _rules_of(self, agent: str, req: rq.ToolPrompt) -> tuple[list[str], float]:
        """The deployed config's ask rules; without one (an agent run outside the supervisor) the prompt's.
        An agent that lies about its rules can only put cards before the operator, never approve one."""
        try:
            tools = (await self.deployments.config_of(agent)).tools
        except HiveError:
            return list(req.ask), req.timeout_seconds or ToolsConfig().ask_timeout_seconds
        return list(tools.ask), tools.ask_timeout_seconds
