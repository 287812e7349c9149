"""The `hyperhive` tools Claude Code talks to: served by the harness (tool_host.py) or by `hive-ag3nt mcp`
(stdio, the official `mcp` SDK: a peer's own Claude Code).

Every tool is one request on the agent's own socket, so every tool acts as this agent and nothing
else. A tool is derived from its verb's request model (its parameters are the model's fields, its
description the model's docstring, its text the reply as JSON) unless FACES says better words for the model;
only `recv` and the manager's lifecycle tools are written out by hand. An error from the hive reaches the
model as a tool error carrying the hive's sentence; the server itself never dies of it. This module does
not import the SDK (32 MB of PSS, measured): the harness keeps the tools resident, so only `serve_stdio`
loads it.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, Union, get_args, get_origin

from hyperhive.client import AsyncSocketClient
from hyperhive.protocol import HiveError, Message
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol import replies as rp
from hyperhive.protocol.fields import verbs_of

from .claude_files import HYPERHIVE_SERVER
from .permission_prompt import register as register_permission_prompt
from .turn_ledger import record_pulled

SERVER_NAME = HYPERHIVE_SERVER
DEFAULT_SOCKET = Path("/run/hive/mcp.sock")
P = ParamSpec("P")


def _hive_errors_as_tool_errors(fn: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    from mcp.server.mcpserver.exceptions import ToolError

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await fn(*args, **kwargs)
        except HiveError as exc:
            raise ToolError(exc.message) from None

    return wrapper


def format_messages(messages: list[Message], pending: int) -> str:
    if not messages:
        return "no messages"
    lines = []
    for m in messages:
        reply = f" (reply to #{m.in_reply_to})" if m.in_reply_to else ""
        hint = " [broadcast to every agent: it may need no action from you]" if m.broadcast else ""
        lines.append(f"#{m.id} from {m.sender}{reply}{hint}:\n{m.body}")
    if pending:
        lines.append(f"({pending} more waiting)")
    return "\n\n".join(lines)


@dataclass(frozen=True)
class Face:
    """How a verb shows as a tool, when the request's docstring and the reply's JSON are not the best words
    for the model: a description, and the text it reads back."""

    doc: str
    text: Callable[[Any], str]


def _loose_ends(ends: rp.LooseEnds) -> str:
    lines = [f"question #{q.id} {q.asker} → {q.target}: {q.question}" for q in ends.questions]
    lines += [f"reminder #{r.id} at {r.due_at}: {r.body}" for r in ends.reminders]
    lines += [f"approval #{a.id} {a.kind} for {a.agent}: {a.status}" for a in ends.approvals]
    lines += [f"schedule #{s.id} {s.status} → {', '.join(s.targets)}: {s.body}" for s in ends.schedules]
    return "\n".join(lines) or "no loose ends"


def _cancelled(reply: rp.LooseEndCancelled) -> str:
    return next(f"cancelled {kind} #{item['id']}" for kind, item in reply.wire().items())


def _applying(a: rp.Approval) -> str:
    if a.status == "failed":
        return f"refused (approval #{a.id} failed): {a.note}"
    return f"approval #{a.id} is pending the operator's decision; the outcome will arrive in your inbox"


FACES: dict[type[rq.AgentRequest[Any]], Face] = {
    rq.Send: Face("""Send a message. `to` is an agent's name, "operator" (the human), "manager", or "*" (every agent).
        Use in_reply_to with the id of the message you answer.""",
                  lambda r: f"sent #{r.id} to {', '.join(r.recipients)}"),
    rq.Whoami: Face("Your name in the hive, and whether you are the manager.",
                    lambda r: f"you are {r.name} ({r.kind}{', manager' if r.manager else ''})"),
    rq.SetStatus: Face("Set the one-line status the operator sees next to your name (empty text clears it).",
                       lambda r: f"status set: {r.status_text}" if r.status_text else "status cleared"),
    rq.RequestNextTurn: Face("Ask for another turn right after this one ends (to continue work without waiting "
                             "for mail).", lambda r: "you will get another turn when this one ends"),
    rq.GetLogs: Face("The last lines of your own harness log (to see why something of yours failed).",
                     lambda r: "\n".join(r.lines) or "(the log is empty)"),
    rq.Ask: Face("""Ask the operator (default) or another agent (`to`) a question. `options` are suggested answers
        (a free-text answer is always possible); `multi` allows several. The answer arrives later in your
        inbox as a question_answered event; you need not wait for it. ttl_seconds: expire after (≤ 6 h).""",
                 lambda r: f"asked question #{r.question.id} to {r.question.target}; the answer will arrive in "
                           "your inbox"),
    rq.Answer: Face("Answer a question another agent asked you (its question_asked event names the id).",
                    lambda r: f"answered question #{r.question.id} from {r.question.asker}"),
    rq.Remind: Face("Send yourself `message` later: after delay_seconds, or at an RFC 3339 time. At most 50 "
                    "pending.", lambda r: f"reminder #{r.reminder.id} set for {r.reminder.due_at}"),
    rq.GetLooseEnds: Face("Your open questions (asked by you or to you) and pending reminders.",
                          lambda r: _loose_ends(r.loose_ends)),
    rq.CancelLooseEnd: Face('Cancel one of your loose ends: kind "question", "reminder", "approval" or "schedule", '
                            "and its id.", _cancelled),
    rq.RequestSchedulePrompt: Face(
        """Ask the operator to approve a prompt sent to `targets` (agent names) at `first_fire_at` (RFC 3339),
        then every interval_seconds if given. It fires only once the operator approves.""",
        lambda r: f"schedule #{r.schedule.id} awaits the operator's approval #{r.approval.id}"),
    rq.ListSchedules: Face("Schedules you created or receive.", lambda r: "\n".join(
        f"#{s.id} {s.status} next {s.next_fire_at} → {', '.join(s.targets)}: {s.body}" for s in r.schedules)
        or "no schedules"),
    rq.CancelSchedule: Face("Cancel a schedule you created (or, with `targets`, stop only those receiving it).",
                            lambda r: f"schedule #{r.schedule.id} is {r.schedule.status}"),
    rq.FireScheduleNow: Face("Fire one of your schedules once, now.",
                             lambda r: f"schedule #{r.schedule.id} fired ({r.schedule.fire_count} times so far)"),
    # the manager's
    rq.RequestInitConfig: Face(
        """Ask the operator to create a new agent: once approved its config repo is seeded from the template
        under $HIVE_CONFIGS_DIR/<name>/ and you get a config_ready event.""",
        lambda r: f"approval #{r.approval.id} ({r.approval.status}): init_config for {r.approval.agent}"),
    rq.RequestApplyCommit: Face(
        """Ask the operator to deploy a commit of the agent's config repo. commit_ref: the commit's sha
        (`git rev-parse HEAD` in $HIVE_CONFIGS_DIR/<agent>), not a branch name. description: why.""",
        lambda r: _applying(r.approval)),
    rq.RequestSpawn: Face("Ask the operator for a new agent straight from the template (started once approved).",
                          lambda r: f"approval #{r.approval.id} ({r.approval.status}): spawn {r.approval.agent}"),
    rq.ListAgentStatus: Face("Every agent with its state, model, deployed sha and status.", lambda r: "\n".join(
        f"{s.name} ({s.kind}) {s.state} model={s.active_model} sha={s.deployed_sha} unread={s.unread} "
        f"status={s.status_text or '-'}" for s in r.agent_statuses) or "no agents"),
    rq.PendingApprovals: Face("Approvals waiting for the operator.", lambda r: "\n".join(
        f"#{a.id} {a.kind} {a.agent}: {a.description}" for a in r.approvals) or "none pending"),
    rq.Rollback: Face("Propose the revert of the agent's last deploy (a commit in its repo, then an approval).",
                      lambda r: f"approval #{r.approval.id} ({r.approval.status}): roll back {r.approval.agent}"),
}
_ENVELOPE = frozenset({"cmd", "req_id", "version"})


def _plain(annotation: Any) -> Any:
    """A field's type without its constraints: the hive checks the values and its sentence is the error the
    model reads, as for any refusal."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _plain(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return Union[tuple(_plain(a) for a in get_args(annotation))]  # noqa: UP007
    if origin is list:
        return list[_plain(get_args(annotation)[0])]  # type: ignore[misc]
    return annotation


def derived_tool(call: Callable[..., Awaitable[Mapping[str, object]]], kind: type[rq.AgentRequest[Any]]
                 ) -> Callable[..., Awaitable[str]]:
    """The tool of a verb: one parameter per field of its request model, the reply read as its model."""
    face = FACES.get(kind)
    reply_model = kind.reply_model()

    async def tool(**arguments: Any) -> str:
        reply = reply_model.model_validate(await call(kind.verb_name(), **arguments))
        return face.text(reply) if face else json.dumps(reply.wire(), ensure_ascii=False)

    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=_plain(info.annotation),
                                default=inspect.Parameter.empty if info.is_required() else info.default)
              for name, info in kind.model_fields.items() if name not in _ENVELOPE]
    tool.__name__ = tool.__qualname__ = kind.verb_name()
    tool.__doc__ = inspect.cleandoc(face.doc if face else kind.__doc__ or kind.verb_name())
    tool.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in params} | {"return": str}  # get_type_hints reads these
    return tool


def tool_verbs(manager: bool) -> list[type[rq.AgentRequest[Any]]]:
    """The verbs an agent has a tool for: FACES' order, then any other; the manager's only on manager.sock."""
    mine = [v for v in verbs_of(rq.AgentRequest) if "mcp" in v.faces
            and (manager or v.verb_name() not in rq.MANAGER_ONLY)]
    return sorted(mine, key=lambda v: list(FACES).index(v) if v in FACES else len(FACES))


# The verbs whose tools are written out below rather than derived (their parameters are not the model's).
HAND_MADE: dict[type[rq.AgentRequest[Any]], tuple[str, ...]] = {
    rq.Recv: ("recv",), rq.ManageAgent: ("start", "stop", "restart", "update")}


class HiveTools:
    """The agent's tools; `manage` adds the manager's (its socket is manager.sock, which takes them)."""

    def __init__(self, socket_path: Path, turn_ledger: Path | None = None) -> None:
        self.client = AsyncSocketClient(socket_path)
        self.turn_ledger = turn_ledger  # set when a harness runs the turn: it acks what recv returns
        self.functions: list[Callable[..., Awaitable[str]]] = self._tools(manager=False)

    def _tools(self, *, manager: bool) -> list[Callable[..., Awaitable[str]]]:
        tools: list[Callable[..., Awaitable[str]]] = []
        for verb in tool_verbs(manager):
            names = HAND_MADE.get(verb)
            tools += [getattr(self, n) for n in names] if names else [derived_tool(self.call, verb)]
        return tools

    def manage(self) -> None:
        """Add the manager's tools (hm1nd's socket takes them)."""
        known = {f.__name__ for f in self.functions}
        self.functions += [f for f in self._tools(manager=True) if f.__name__ not in known]

    async def call(self, cmd: str, **fields: Any) -> dict[str, object]:
        return await self.client.request(cmd, **{k: v for k, v in fields.items() if v is not None})

    async def recv(self, wait_seconds: float = 0, max: int = 32) -> str:
        """Read waiting messages (they count as handled once this turn ends). wait_seconds (≤ 180) blocks
        until one arrives."""
        # a peer's own Claude Code has no turn to end, so what it reads is handled at once
        got = await self.client.verb(rq.Recv, wait_seconds=wait_seconds, max=max, ack=self.turn_ledger is None)
        if self.turn_ledger is not None:
            record_pulled(self.turn_ledger, [m.id for m in got.messages])
        return format_messages(got.messages, got.pending)

    async def _manage(self, name: str, action: str) -> str:
        rows = await self.client.verb(rq.ManageAgent, name=name, action=action)
        return f"{name}: {rows.agent_statuses[0].state if rows.agent_statuses else 'gone'}"

    async def start(self, name: str) -> str:
        """Start another agent."""
        return await self._manage(name, "start")

    async def stop(self, name: str) -> str:
        """Stop another agent (its running turn may finish)."""
        return await self._manage(name, "stop")

    async def restart(self, name: str) -> str:
        """Restart another agent."""
        return await self._manage(name, "restart")

    async def update(self, name: str) -> str:
        """Restart another agent on its deployed config, read afresh."""
        return await self._manage(name, "update")


async def hive_tools(socket_path: Path, turn_ledger: Path | None = None, ask_rules: list[str] | None = None,
                     ask_timeout: float | None = None) -> HiveTools:
    """The tools acting as the socket's agent (with the manager's when it is hm1nd, and the permission
    prompt's when it has ask rules: given by the harness, else from a stdio server's env)."""
    tools = HiveTools(socket_path, turn_ledger)
    register_permission_prompt(tools.functions, socket_path, ask_rules, ask_timeout)
    try:
        await tools.client.connect()
        me = await tools.client.verb(rq.Hello, role="mcp")
        if me.manager:
            tools.manage()
    except HiveError:
        pass  # a tool call will say what is wrong; an MCP server that does not start says nothing useful
    except BaseException:
        await tools.client.close()  # cancelled mid-hello (a harness stopping): nobody else holds this connection
        raise
    return tools


async def serve_stdio(socket_path: Path, turn_ledger: Path | None = None) -> None:
    """`hive-ag3nt mcp`: a peer's Claude Code (or any MCP client) starts this over stdio."""
    tools = await hive_tools(socket_path, turn_ledger)
    await sdk_server(tools).run_stdio_async()


INSTRUCTIONS = "Tools to talk to the other agents of your hive and to the operator."


def sdk_server(tools: HiveTools) -> Any:
    """The tools on the official SDK's server (imported here, not at module level)."""
    from mcp.server.mcpserver import MCPServer

    server: MCPServer[Any] = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS)
    for tool in tools.functions:
        server.add_tool(_hive_errors_as_tool_errors(tool), structured_output=False)
    return server
