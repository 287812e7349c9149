"""What a Claude Code turn reads besides its prompt: `<state>/.hive/{system-prompt.md, settings.json, mcp.json}`.

The files are rewritten before every turn when their content differs. The state dir is the agent's own
home, so the agent can edit them; rewriting undoes that at the next turn, and the config repo stays the
only source of what the brain may do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from .permission_prompt import McpServer, add_prompt_settings
from .turn_ledger import LEDGER_ENV

HYPERHIVE_SERVER = "hyperhive"
# The CLI deletes transcripts older than this many days at start (30 by default); an agent's one session
# may sit idle for months and must still resume.
TRANSCRIPT_KEEP_DAYS = 36500


class Permissions(TypedDict, total=False):
    allow: list[str]
    deny: list[str]
    ask: list[str]


class ClaudeSettings(TypedDict):
    """`settings.json`: the permission rules, and how long the CLI keeps transcripts."""

    permissions: Permissions
    cleanupPeriodDays: int


class McpConfig(TypedDict):
    """`mcp.json`, the CLI's `--mcp-config`."""

    mcpServers: dict[str, McpServer]


@dataclass(frozen=True)
class BrainConfig:
    """What agent.toml says about the brain; the loop builds it from the config."""

    model: str
    system_prompt: str
    allowed_tools: list[str]
    """Permission rules granted without asking (`mcp__hyperhive`, `Read`, `Bash(git *)`…); a call to any
    other tool is denied (in `--print` nobody can say yes) and listed in the turn's permission denials."""
    mcp_servers: dict[str, McpServer]
    """Extra MCP servers: name -> {"command", "args", "env"} (or any server entry the CLI accepts)."""
    hyperhive_mcp_command: list[str]
    """Starts the `hyperhive` MCP server; empty: no hive tools (a test, or a brain without a hive)."""
    env: dict[str, str] = field(default_factory=dict)
    denied_tools: list[str] = field(default_factory=list)
    context_window: int = 200_000
    """The model's context window in tokens."""
    compact_percent: int = 75
    """Compact the session (after a notes turn) once a turn's prompt fills this share of the window; 100:
    only when a prompt is too long."""
    """Permission rules always refused, whatever allows them (`WebFetch`, `Bash(git push:*)`)."""
    tools: list[str] | None = None
    """Built-in tools the model sees (`--tools`); None keeps the CLI's default set, [] shows none."""
    ask_tools: list[str] = field(default_factory=list)
    """Permission rules that ask the operator (a `tool_use` approval; see permission_prompt.py)."""
    ask_timeout_seconds: float = 1800.0


class ClaudeFiles:
    def __init__(self, state_dir: Path, brain: BrainConfig) -> None:
        self.dir = state_dir / ".hive"
        self.brain = brain
        self.system_prompt = self.dir / "system-prompt.md"
        self.settings = self.dir / "settings.json"
        self.mcp = self.dir / "mcp.json"
        self.turn_ledger = self.dir / "pulled.jsonl"
        self.hosted: McpServer | None = None
        """The `hyperhive` entry of the harness's resident tool server (tool_host.py); None: start
        `hyperhive_mcp_command` over stdio for each turn."""

    def write(self) -> None:
        """Write the three files; a file whose content is already right is left alone."""
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_if_changed(self.system_prompt, self.brain.system_prompt)
        _write_if_changed(self.settings, _dumps(settings_for(self.brain)))
        _write_if_changed(self.mcp, _dumps(mcp_config_for(self.brain, self.turn_ledger, self.hosted)))


def settings_for(brain: BrainConfig) -> ClaudeSettings:
    permissions: Permissions = {"allow": list(brain.allowed_tools)}
    if brain.denied_tools:
        permissions["deny"] = list(brain.denied_tools)
    if brain.ask_tools:
        permissions["ask"] = list(brain.ask_tools)
    return {"permissions": permissions, "cleanupPeriodDays": TRANSCRIPT_KEEP_DAYS}


def mcp_config_for(brain: BrainConfig, turn_ledger: Path | None = None,
                   hosted: McpServer | None = None) -> McpConfig:
    """The CLI's `--mcp-config`. `turn_ledger`: where the hive's tools record the mail the model pulls (see
    turn_ledger.py); `hosted`: the harness's resident `hyperhive` server, used instead of a stdio one."""
    if HYPERHIVE_SERVER in brain.mcp_servers:
        raise ValueError(f"the MCP server name {HYPERHIVE_SERVER!r} is reserved for the hive's own tools")
    servers: dict[str, McpServer] = {}
    if hosted is not None and brain.hyperhive_mcp_command:
        servers[HYPERHIVE_SERVER] = hosted.copy()
    elif brain.hyperhive_mcp_command:
        command, *args = brain.hyperhive_mcp_command
        env = {LEDGER_ENV: str(turn_ledger)} if turn_ledger is not None else {}
        servers[HYPERHIVE_SERVER] = {"type": "stdio", "command": command, "args": args, "env": env}
    if HYPERHIVE_SERVER in servers:
        add_prompt_settings(servers[HYPERHIVE_SERVER], brain)  # ask rules: the operator answers prompts
    for name, server in brain.mcp_servers.items():
        entry = server.copy()
        if "command" in entry:
            entry.setdefault("type", "stdio")
            entry["args"] = list(entry.get("args") or [])
            entry["env"] = dict(entry.get("env") or {})
        servers[name] = entry
    return {"mcpServers": servers}


def _dumps(value: ClaudeSettings | McpConfig) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a CLI starting meanwhile reads the old file or the new one, never half of one
