"""Tool permission prompts answered by the operator: `mcp__hyperhive__permission_prompt`.

With `[tools] ask` rules the CLI runs with `--permission-prompts host --permission-prompt-tool` naming this
tool: a call that would prompt comes here as `{tool_name, input, tool_use_id}`, and this tool answers with
the JSON the CLI expects, `{"behavior": "allow", "updatedInput": …}` or `{"behavior": "deny", "message": …}`.
The hive decides (`tool_prompt` on the agent's socket): it files a `tool_use` approval for a call an ask
rule matches and answers when the operator has (it refuses anything else at once). Each prompt waits on a
connection of its own, so its end (a turn interrupted, a CLI killed) is the hive's sign to cancel the card;
when hive-c0re goes away meanwhile, the prompt reconnects and asks again under the same tool_use_id, which
finds the same approval rather than filing a second.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypedDict

from hyperhive.client import AsyncSocketClient
from hyperhive.client.errors import Unreachable
from hyperhive.protocol import HiveError
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol.replies import PermissionDecision

from .reconnect import Reconnect

TOOL_NAME = "permission_prompt"
PROMPT_TOOL = f"mcp__hyperhive__{TOOL_NAME}"  # claude_files.HYPERHIVE_SERVER (which imports us)
# The CLI's own cap on one MCP call must outlast the hive's wait (and a daemon restart in it).
TIMEOUT_MARGIN_SECONDS = 600
ASK_RULES_ENV = "HIVE_ASK_RULES"
ASK_TIMEOUT_ENV = "HIVE_ASK_TIMEOUT_SECONDS"


class McpServer(TypedDict, total=False):
    """An entry of the CLI's mcp.json: a stdio server (`command`…) or an HTTP one (`url`…)."""

    type: str  # stdio, http
    command: str
    args: list[str]
    env: dict[str, str]
    url: str
    headers: dict[str, str]
    timeout: int  # ms the CLI waits for one call


class AskRules(Protocol):
    """What the prompt settings read of claude_files.BrainConfig (that module imports this one)."""

    @property
    def ask_tools(self) -> list[str]: ...

    @property
    def ask_timeout_seconds(self) -> float: ...


def permission_args(brain: AskRules) -> list[str]:
    """The CLI's flags: with ask rules, prompts go to our tool; without, nobody answers and they are denied."""
    if brain.ask_tools:
        return ["--permission-prompts", "host", "--permission-prompt-tool", PROMPT_TOOL]
    return ["--permission-prompts", "none"]


def add_prompt_settings(server: McpServer, brain: AskRules) -> None:
    """The hyperhive server's entry in mcp.json, with ask rules: a `timeout` that outlasts the operator's,
    and for a stdio server (one per turn) the rules and timeout in its env; the harness's resident server
    was given them when it started (tool_host.py)."""
    if brain.ask_tools:
        server["timeout"] = int((brain.ask_timeout_seconds + TIMEOUT_MARGIN_SECONDS) * 1000)
        if server.get("type") == "stdio":
            server["env"] = {**server.get("env", {}), ASK_RULES_ENV: json.dumps(brain.ask_tools),
                             ASK_TIMEOUT_ENV: str(brain.ask_timeout_seconds)}


def _rules_from_env() -> tuple[list[str], float | None]:
    try:
        rules = json.loads(os.environ.get(ASK_RULES_ENV, "[]"))
        timeout = float(os.environ[ASK_TIMEOUT_ENV]) if ASK_TIMEOUT_ENV in os.environ else None
    except ValueError:
        return [], None
    return [str(r) for r in rules] if isinstance(rules, list) else [], timeout


async def ask_hive(socket_path: Path, tool_name: str, tool_input: Mapping[str, object], tool_use_id: str,
                   rules: list[str], timeout: float | None) -> PermissionDecision:
    """The hive's answer to one prompt; waits as long as the hive says (through its restarts)."""
    pauses = Reconnect(socket_path)
    while True:
        client = AsyncSocketClient(socket_path)
        try:
            await client.connect()
            pauses.done()
            return await client.verb(rq.ToolPrompt, tool=tool_name, input=tool_input, tool_use_id=tool_use_id,
                                     ask=rules, timeout_seconds=timeout or None)
        except Unreachable:
            await pauses.pause()  # hive-c0re is restarting: the approval is kept; ask again when it is back
        except HiveError as exc:
            return PermissionDecision(behavior="deny", message=f"the hive could not ask the operator: {exc.message}")
        finally:
            await client.close()


class PermissionPromptTool:
    """Added to the hyperhive tools by `register` (one line in tools.py)."""

    def __init__(self, socket_path: Path, rules: list[str], timeout: float | None) -> None:
        self.socket_path = socket_path
        self.rules = rules
        self.timeout = timeout

    async def permission_prompt(self, tool_name: str, input: dict[str, object], tool_use_id: str | None = None) -> str:
        """Claude Code's permission prompt (not for the model): asks the operator whether this call may run."""
        answer = await ask_hive(self.socket_path, tool_name, input, tool_use_id or f"anon-{uuid.uuid4()}",
                                self.rules, self.timeout)
        return json.dumps(answer.wire())


def register(functions: list[Any], socket_path: Path, rules: list[str] | None = None,
             timeout: float | None = None) -> None:
    """Only with ask rules (the harness's, or for a stdio server its env from mcp.json): elsewhere the
    model never sees the tool."""
    if rules is None:
        rules, timeout = _rules_from_env()
    if rules:
        functions.append(PermissionPromptTool(socket_path, rules, timeout).permission_prompt)
