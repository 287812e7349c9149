"""From an agent's config to what its Claude Code turns are allowed: model, tools, MCP servers, prompt."""

from __future__ import annotations

import sys
from pathlib import Path

from hyperhive.config import DEFAULT_MODEL, AgentConfig
from hyperhive.config.sections import CompactionConfig, ToolsConfig

from .claude_driver import BrainConfig
from .claude_files import HYPERHIVE_SERVER
from .permission_prompt import McpServer
from .prompts import MANAGER_GUIDE, system_prompt


def mcp_command(socket: Path) -> list[str]:
    return [sys.executable, "-m", "hyperhive.cli.ag3nt", "mcp", "--socket", str(socket)]


def brain_for(name: str, config: AgentConfig | None, socket: Path, description: str = "") -> BrainConfig:
    servers: dict[str, McpServer] = {}
    tools = config.tools if config is not None else ToolsConfig()
    compaction = config.compaction if config is not None else CompactionConfig()
    allowed = [f"mcp__{HYPERHIVE_SERVER}", *tools.allowed()]
    if config is not None:
        for server_name, server in config.mcp_servers.items():
            servers[server_name] = {"command": server.command, "args": list(server.args), "env": dict(server.env)}
            for tool in server.allowed_tools:
                allowed.append(f"mcp__{server_name}" if tool == "*" else f"mcp__{server_name}__{tool}")
    return BrainConfig(
        model=config.model if config is not None else DEFAULT_MODEL,
        system_prompt=system_prompt(name, config.description if config is not None else description,
                                    MANAGER_GUIDE if config is not None and config.role == "manager" else ""),
        allowed_tools=allowed,
        denied_tools=list(tools.deny),
        ask_tools=list(tools.ask),
        ask_timeout_seconds=tools.ask_timeout_seconds,
        context_window=compaction.context_tokens,
        compact_percent=compaction.watermark_percent,
        mcp_servers=servers,
        hyperhive_mcp_command=mcp_command(socket),
        env=dict(config.env) if config is not None else {},
    )

