"""Value types of agent.toml and host.toml: each one a str with the rule it must obey, so a bad value is
refused at the key that holds it."""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Literal

from pydantic import AfterValidator

from ..protocol.names import MANAGER_ALIAS, OPERATOR, check_agent_name

Network = Literal["private", "host"]
ALWAYS_REACHABLE = frozenset({OPERATOR, MANAGER_ALIAS})
ALL_AGENTS = "*"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Environment variables the harness sets itself; an agent config may not override them.
#   HOME, PATH:          the sandbox's home and tool path.
#   CLAUDE_CONFIG_DIR:   where Claude Code keeps the agent's credentials and sessions.
#   ANTHROPIC_BASE_URL:  where the agent's API traffic (and its credentials) go; a host matter.
#   ANTHROPIC_MODEL:     the model is the `model` key, in one place.
#   HYPERHIVE_*:         the harness's own wiring (socket paths, agent name).
RESERVED_ENV = frozenset({"HOME", "PATH", "CLAUDE_CONFIG_DIR", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"})
RESERVED_ENV_PREFIX = "HYPERHIVE_"
# Passed to `claude --model`: no leading '-' (it would read as a flag), no spaces.
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\[\]-]{0,99}$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:=@/-]{0,199}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")
_MCP_SERVER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TOOL = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# The hive's own MCP server: Claude Code sees its tools as mcp__hyperhive__<tool>.
HIVE_MCP_SERVER = "hyperhive"


def check_env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid environment variable name (letters, digits, '_'; "
                         "not starting with a digit)")
    return name


def check_agent_env_name(name: str) -> str:
    check_env_name(name)
    if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIX):
        raise ValueError(f"{name!r} is set by the harness and may not be overridden")
    return name


def check_no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("may not contain a NUL character")
    return value


def check_recipient(value: str) -> str:
    """An agent name, `operator`, `manager`, or `*` (every agent)."""
    if value in ALWAYS_REACHABLE or value == ALL_AGENTS:
        return value
    return check_agent_name(value)


def check_abs_path(value: str) -> str:
    """An absolute path without `..`; returned normalised (no `.`, no doubled or trailing `/`)."""
    check_no_nul(value)
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} contains '..'")
    return posixpath.normpath("/" + value.lstrip("/"))


def check_host_path(value: str) -> str:
    """An absolute host path, kept as written: `..` and symlinks are resolved together (realpath) when the
    host policy checks it, since collapsing `..` first would disagree with the kernel (`a/link/..` is the
    parent of the link's target, not `a`)."""
    check_no_nul(value)
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    return value


# Claude Code's built-in tools (the `tools` of CLI 2.1.331's init line, and the older names its permission
# rules still take). A rule names one of them, optionally with a specifier: `Bash(git push:*)`.
BUILTIN_TOOL_NAMES = frozenset({
    "Agent", "AskUserQuestion", "Bash", "BashOutput", "CronCreate", "CronDelete", "CronList", "Edit",
    "EnterWorktree", "ExitPlanMode", "ExitWorktree", "Glob", "Grep", "KillShell", "LS", "ListAgents",
    "Monitor", "MultiEdit", "NotebookEdit", "NotebookRead", "Read", "ReportFindings", "ScheduleWakeup",
    "SendMessage", "Skill", "SlashCommand", "Task", "TaskStop", "TodoWrite", "ToolSearch", "WebFetch",
    "WebSearch", "Workflow", "Write",
})
_TOOL_RULE = re.compile(r"^([A-Za-z]+)(?:\((.*)\))?$", re.DOTALL)


def check_tool_rule(value: str) -> str:
    """A Claude Code permission rule for a built-in tool: `Name` or `Name(specifier)`."""
    found = _TOOL_RULE.fullmatch(value)
    if found is None:
        raise ValueError(f"{value!r} is not a permission rule: write `Tool` or `Tool(specifier)`, "
                         "e.g. `WebFetch` or `Bash(git push:*)`")
    name, specifier = found.groups()
    if name.startswith("mcp") or name not in BUILTIN_TOOL_NAMES:
        raise ValueError(f"{name!r} is not one of Claude Code's built-in tools ({', '.join(sorted(BUILTIN_TOOL_NAMES))}"
                         "); an MCP server's tools are set in its own `allowed_tools`")
    if specifier is not None and (not specifier.strip() or len(specifier) > 500
                                  or any(c in specifier for c in "\x00\n\r")):
        raise ValueError(f"{value!r}: the part in parentheses must be one line of 1 to 500 characters")
    return value


def _pattern(rule: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not rule.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value
    TYPE_LABELS[check] = what
    return AfterValidator(check)


# What the docs call each checked string type.
TYPE_LABELS: dict[object, str] = {
    check_agent_name: "agent name",
    check_recipient: "recipient",
    check_env_name: "variable name",
    check_agent_env_name: "variable name",
    check_abs_path: "absolute path",
    check_host_path: "host path",
    check_tool_rule: "permission rule",
}


AgentName = Annotated[str, AfterValidator(check_agent_name)]
Recipient = Annotated[str, AfterValidator(check_recipient)]
EnvName = Annotated[str, AfterValidator(check_env_name)]
AgentEnvName = Annotated[str, AfterValidator(check_agent_env_name)]
Text = Annotated[str, AfterValidator(check_no_nul)]
AbsPath = Annotated[str, AfterValidator(check_abs_path)]
HostPath = Annotated[str, AfterValidator(check_host_path)]
ModelName = Annotated[str, _pattern(_MODEL, "model name")]
PackageName = Annotated[str, _pattern(_PACKAGE, "package name")]
# Debian Policy 5.6.1: lowercase letters, digits, + - . ; at least two characters, starting alphanumeric.
DebianPackage = Annotated[str, _pattern(re.compile(r"^[a-z0-9][a-z0-9+.-]{1,99}$"), "Debian package name")]
ImageRef = Annotated[str, _pattern(_IMAGE, "image reference")]
McpServerName = Annotated[str, _pattern(_MCP_SERVER, "MCP server name")]
ToolRule = Annotated[str, AfterValidator(check_tool_rule)]
ToolName = Annotated[str, _pattern(re.compile(rf"^(\*|{_TOOL.pattern[1:-1]})$"), "tool name (or '*')")]
