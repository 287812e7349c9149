"""The `hyperhive` tools Claude Code talks to: served by the harness (tool_host.py) or by `hive-ag3nt mcp`
(stdio, the official `mcp` SDK: a peer's own Claude Code).

Every tool is one request on the agent's own socket, so every tool acts as this agent and nothing
else. An error from the hive reaches the model as a tool error carrying the hive's sentence; the server
itself never dies of it. This module does not import the SDK (32 MB of PSS, measured): the harness keeps the
tools resident, so only `serve_stdio` loads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec

from hyperhive.client import AsyncSocketClient
from hyperhive.protocol import HiveError

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


def format_messages(messages: list[dict[str, Any]], pending: int) -> str:
    if not messages:
        return "no messages"
    lines = []
    for m in messages:
        reply = f" (reply to #{m['in_reply_to']})" if m.get("in_reply_to") else ""
        hint = " [broadcast to every agent: it may need no action from you]" if m.get("broadcast") else ""
        lines.append(f"#{m['id']} from {m['sender']}{reply}{hint}:\n{m['body']}")
    if pending:
        lines.append(f"({pending} more waiting)")
    return "\n\n".join(lines)


class HiveTools:
    """The agent's tools; `extra` tools (the manager's) register on the same server."""

    def __init__(self, socket_path: Path, turn_ledger: Path | None = None) -> None:
        self.client = AsyncSocketClient(socket_path)
        self.turn_ledger = turn_ledger  # set when a harness runs the turn: it acks what recv returns
        self.functions: list[Callable[..., Awaitable[str]]] = [
            self.send, self.recv, self.whoami, self.set_status, self.request_next_turn, self.get_logs, self.ask,
            self.answer, self.remind, self.get_loose_ends, self.cancel_loose_end, self.request_schedule_prompt,
            self.list_schedules, self.cancel_schedule, self.fire_schedule_now]

    async def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        return await self.client.request(cmd, **{k: v for k, v in fields.items() if v is not None})

    async def send(self, to: str, body: str, in_reply_to: int | None = None) -> str:
        """Send a message. `to` is an agent's name, "operator" (the human), "manager", or "*" (every agent).
        Use in_reply_to with the id of the message you answer."""
        result = await self.call("send", to=to, body=body, in_reply_to=in_reply_to)
        return f"sent #{result['id']} to {', '.join(result['recipients'])}"

    async def recv(self, wait_seconds: float = 0, max: int = 32) -> str:
        """Read waiting messages (they count as handled once this turn ends). wait_seconds (≤ 180) blocks
        until one arrives."""
        if self.turn_ledger is None:  # a peer's own Claude Code: no turn to end, so read means handled
            result = await self.call("recv", wait_seconds=wait_seconds, max=max, ack=True)
        else:
            result = await self.call("recv", wait_seconds=wait_seconds, max=max, ack=False)
            record_pulled(self.turn_ledger, [m["id"] for m in result["messages"]])
        return format_messages(result["messages"], result["pending"])

    async def whoami(self) -> str:
        """Your name in the hive, and whether you are the manager."""
        result = await self.call("whoami")
        return f"you are {result['name']} ({result['kind']}{', manager' if result['manager'] else ''})"

    async def set_status(self, text: str) -> str:
        """Set the one-line status the operator sees next to your name (empty text clears it)."""
        await self.call("set_status", text=text or None)
        return "status cleared" if not text else f"status set: {text}"

    async def request_next_turn(self, note: str = "") -> str:
        """Ask for another turn right after this one ends (to continue work without waiting for mail)."""
        await self.call("request_next_turn", note=note or None)
        return "you will get another turn when this one ends"

    async def get_logs(self, lines: int = 50) -> str:
        """The last lines of your own harness log (to see why something of yours failed)."""
        result = await self.call("get_logs", lines=lines)
        return "\n".join(result["lines"]) or "(the log is empty)"


    async def ask(self, question: str, options: list[str] | None = None, multi: bool = False,
                  ttl_seconds: float | None = None, to: str | None = None) -> str:
        """Ask the operator (default) or another agent (`to`) a question. `options` are suggested answers
        (a free-text answer is always possible); `multi` allows several. The answer arrives later in your
        inbox as a question_answered event; you need not wait for it. ttl_seconds: expire after (≤ 6 h)."""
        q = (await self.call("ask", question=question, options=options or [], multi=multi,
                             ttl_seconds=ttl_seconds, to=to))["question"]
        return f"asked question #{q['id']} to {q['target']}; the answer will arrive in your inbox"

    async def answer(self, id: int, answer: str) -> str:
        """Answer a question another agent asked you (its question_asked event names the id)."""
        q = (await self.call("answer", id=id, answer=answer))["question"]
        return f"answered question #{q['id']} from {q['asker']}"

    async def remind(self, message: str, delay_seconds: float | None = None, at: str | None = None) -> str:
        """Send yourself `message` later: after delay_seconds, or at an RFC 3339 time. At most 50 pending."""
        r = (await self.call("remind", message=message, delay_seconds=delay_seconds, at=at))["reminder"]
        return f"reminder #{r['id']} set for {r['due_at']}"

    async def get_loose_ends(self) -> str:
        """Your open questions (asked by you or to you) and pending reminders."""
        ends = (await self.call("get_loose_ends"))["loose_ends"]
        lines = [f"question #{q['id']} {q['asker']} → {q['target']}: {q['question']}" for q in ends["questions"]]
        lines += [f"reminder #{r['id']} at {r['due_at']}: {r['body']}" for r in ends["reminders"]]
        lines += [f"approval #{a['id']} {a['kind']} for {a['agent']}: {a['status']}" for a in ends["approvals"]]
        lines += [f"schedule #{s['id']} {s['status']} → {', '.join(s['targets'])}: {s['body']}"
                  for s in ends["schedules"]]
        return "\n".join(lines) or "no loose ends"

    async def cancel_loose_end(self, kind: str, id: int) -> str:
        """Cancel one of your loose ends: kind "question", "reminder", "approval" or "schedule", and its id."""
        await self.call("cancel_loose_end", kind=kind, id=id)
        return f"cancelled {kind} #{id}"


    async def request_schedule_prompt(self, targets: list[str], body: str, first_fire_at: str,
                                      interval_seconds: float | None = None, description: str = "") -> str:
        """Ask the operator to approve a prompt sent to `targets` (agent names) at `first_fire_at` (RFC 3339),
        then every interval_seconds if given. It fires only once the operator approves."""
        got = await self.call("request_schedule_prompt", targets=targets, body=body, first_fire_at=first_fire_at,
                              interval_seconds=interval_seconds, description=description)
        return f"schedule #{got['schedule']['id']} awaits the operator's approval #{got['approval']['id']}"

    async def list_schedules(self) -> str:
        """Schedules you created or receive."""
        found = (await self.call("list_schedules"))["schedules"]
        return "\n".join(f"#{s['id']} {s['status']} next {s['next_fire_at']} → {', '.join(s['targets'])}: "
                         f"{s['body']}" for s in found) or "no schedules"

    async def cancel_schedule(self, id: int, targets: list[str] | None = None) -> str:
        """Cancel a schedule you created (or, with `targets`, stop only those receiving it)."""
        s = (await self.call("cancel_schedule", id=id, targets=targets))["schedule"]
        return f"schedule #{s['id']} is {s['status']}"

    async def fire_schedule_now(self, id: int) -> str:
        """Fire one of your schedules once, now."""
        s = (await self.call("fire_schedule_now", id=id))["schedule"]
        return f"schedule #{s['id']} fired ({s['fire_count']} times so far)"


class ManagerTools:
    """hm1nd's extra tools (its socket is manager.sock, which takes them)."""

    def __init__(self, tools: HiveTools) -> None:
        self.call = tools.call
        tools.functions += [self.request_init_config, self.request_apply_commit, self.request_spawn, self.start,
                            self.stop, self.restart, self.update, self.list_agents, self.pending_approvals,
                            self.rollback]

    async def request_init_config(self, name: str, description: str = "") -> str:
        """Ask the operator to create a new agent: once approved its config repo is seeded from the template
        under $HIVE_CONFIGS_DIR/<name>/ and you get a config_ready event."""
        a = (await self.call("request_init_config", name=name, description=description))["approval"]
        return f"approval #{a['id']} ({a['status']}): init_config for {name}"

    async def request_apply_commit(self, agent: str, commit_ref: str, description: str = "") -> str:
        """Ask the operator to deploy a commit of the agent's config repo. commit_ref: the commit's sha
        (`git rev-parse HEAD` in $HIVE_CONFIGS_DIR/<agent>), not a branch name. description: why."""
        a = (await self.call("request_apply_commit", agent=agent, commit_ref=commit_ref,
                             description=description))["approval"]
        if a["status"] == "failed":
            return f"refused (approval #{a['id']} failed): {a['note']}"
        return f"approval #{a['id']} is pending the operator's decision; the outcome will arrive in your inbox"

    async def request_spawn(self, name: str, description: str = "") -> str:
        """Ask the operator for a new agent straight from the template (started once approved)."""
        a = (await self.call("request_spawn", name=name, description=description))["approval"]
        return f"approval #{a['id']} ({a['status']}): spawn {name}"

    async def _manage(self, name: str, action: str) -> str:
        rows = (await self.call("manage_agent", name=name, action=action))["agent_statuses"]
        return f"{name}: {rows[0]['state'] if rows else 'gone'}"

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

    async def list_agents(self) -> str:
        """Every agent with its state, model, deployed sha and status."""
        rows = (await self.call("list_agents"))["agent_statuses"]
        return "\n".join(f"{r['name']} ({r['kind']}) {r['state']} model={r['active_model']} "
                         f"sha={r['deployed_sha']} unread={r['unread']} status={r['status_text'] or '-'}"
                         for r in rows) or "no agents"

    async def pending_approvals(self) -> str:
        """Approvals waiting for the operator."""
        found = (await self.call("pending_approvals"))["approvals"]
        return "\n".join(f"#{a['id']} {a['kind']} {a['agent']}: {a['description']}" for a in found) or "none pending"

    async def rollback(self, agent: str) -> str:
        """Propose the revert of the agent's last deploy (a commit in its repo, then an approval)."""
        a = (await self.call("rollback", agent=agent))["approval"]
        return f"approval #{a['id']} ({a['status']}): roll back {agent}"


async def hive_tools(socket_path: Path, turn_ledger: Path | None = None, ask_rules: list[str] | None = None,
                     ask_timeout: float | None = None) -> HiveTools:
    """The tools acting as the socket's agent (with the manager's when it is hm1nd, and the permission
    prompt's when it has ask rules: given by the harness, else from a stdio server's env)."""
    tools = HiveTools(socket_path, turn_ledger)
    register_permission_prompt(tools.functions, socket_path, ask_rules, ask_timeout)
    try:
        await tools.client.connect()
        me = await tools.client.request("hello", role="mcp")
        if me.get("manager"):
            ManagerTools(tools)
    except HiveError:
        pass  # a tool call will say what is wrong; an MCP server that does not start says nothing useful
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
