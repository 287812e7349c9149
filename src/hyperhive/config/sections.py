"""The tables of agent.toml: `[restart]`, `[limits]`, `[tools]`, `[compaction]`, `[mcp_servers.<name>]` and
`[[bind_mounts]]`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .fields import AbsPath, EnvName, HostPath, Text, ToolName, ToolRule

# Sandbox paths a bind mount may not cover: the hive's socket dir and the kernel's own trees.
RESERVED_TARGETS = ("/", "/run/hive", "/proc", "/sys", "/dev")

SECTION_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)


class McpServer(BaseModel):
    """An extra MCP server the agent's Claude Code starts (beside the hive's own `hyperhive` server)."""

    model_config = SECTION_CONFIG

    command: Text = Field(min_length=1)
    """Program to run inside the sandbox (absolute path, or a name on the sandbox's PATH)."""
    args: list[Text] = []
    """Its arguments."""
    env: dict[EnvName, Text] = {}
    """Environment variables for the server process only."""
    allowed_tools: list[ToolName] = []
    """Tools of this server the agent may call without asking: tool names, or `*` for all of them. Empty:
    none (in a non-interactive turn a tool that needs asking is refused)."""


class BindMount(BaseModel):
    """A host directory or file visible inside the sandbox."""

    model_config = SECTION_CONFIG

    host: HostPath
    """Absolute host path; resolved (symlinks followed, `..` applied), it must exist and lie under one of
    host.toml's `bind_roots`."""
    target: AbsPath
    """Absolute path inside the sandbox, without `..`; not `/`, and not under /run/hive, /proc, /sys or /dev."""
    mode: Literal["ro", "rw"] = "ro"
    """`ro` (read-only) or `rw` (read-write)."""

    @field_validator("target")
    @classmethod
    def _free_target(cls, target: str) -> str:
        for reserved in RESERVED_TARGETS:
            if target == reserved or (reserved != "/" and target.startswith(reserved + "/")):
                raise ValueError(f"{target!r} is reserved for the sandbox itself")
        return target


class RestartConfig(BaseModel):
    """What happens when the agent's process exits."""

    model_config = SECTION_CONFIG

    policy: Literal["on-failure", "always", "never"] = "on-failure"
    """`on-failure`: restart after an unexpected exit; `always`: after any exit; `never`."""
    delay_seconds: float = Field(default=5.0, ge=0, le=3600)
    """Wait before a restart."""
    max_restarts: int = Field(default=5, ge=0)
    """Restarts allowed within `window_seconds`; one more exit and the agent is left failed."""
    window_seconds: float = Field(default=300.0, gt=0)
    """The window `max_restarts` counts in."""
    stop_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """On stop, wait this long after SIGTERM before SIGKILL."""


class Limits(BaseModel):
    """Resource limits of the sandbox. Unset: the host's default (host.toml `default_limits`); set: at most
    the host's ceiling (host.toml `max_limits`)."""

    model_config = SECTION_CONFIG

    memory_mb: int | None = Field(default=None, gt=0)
    """Memory limit in MiB."""
    cpu_percent: int | None = Field(default=None, gt=0)
    """CPU limit in percent of one core (200 = two cores)."""
    pids: int | None = Field(default=None, gt=0)
    """Maximum number of processes and threads."""



# What an agent may use without asking when `[tools] allow` is unset: it works inside its sandbox, on its home.
DEFAULT_ALLOWED_TOOLS = ("Read", "Write", "Edit", "MultiEdit", "Glob", "Grep", "Bash", "TodoWrite", "NotebookEdit")


class ToolsConfig(BaseModel):
    """Claude Code's built-in tools: which the agent may use without asking, and which never. Rules are
    Claude Code's permission rules: a tool (`WebFetch`) or a tool with a specifier (`Bash(git push:*)`,
    `Edit(docs/**)`). A call no rule allows is refused, and the model is told so and carries on; a call an
    `ask` rule matches waits for the operator's answer. The hive's own tools are always allowed; an MCP
    server's are set in its table."""

    model_config = SECTION_CONFIG

    allow: list[ToolRule] | None = None
    """Rules allowed without asking. Unset: Read, Write, Edit, MultiEdit, Glob, Grep, Bash, TodoWrite and
    NotebookEdit. Set: exactly these (`[]`: no built-in tool at all)."""
    deny: list[ToolRule] = []
    """Rules always refused; a deny wins over any allow (`deny = ["Bash(git push:*)"]` keeps Bash but not
    `git push`)."""
    ask: list[ToolRule] = []
    """Rules that ask the operator: a matching call waits for a `tool_use` approval (approve runs it once,
    deny refuses it with the operator's note). An ask wins over an allow; a deny wins over both."""
    ask_timeout_seconds: float = Field(default=1800.0, ge=1, le=86400)
    """How long a call waits for the operator's answer before it is refused (the model is told why)."""

    @field_validator("allow", "deny", "ask")
    @classmethod
    def _no_duplicates(cls, rules: list[str] | None) -> list[str] | None:
        twice = [r for i, r in enumerate(rules or []) if r in (rules or [])[:i]]
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice")
        return rules

    def allowed(self) -> list[str]:
        return list(DEFAULT_ALLOWED_TOOLS if self.allow is None else self.allow)


class CompactionConfig(BaseModel):
    """Compacting the agent's one long session before it fills the model's context. At the watermark the
    harness gives the agent a short turn to write down in its notes what it must not forget, then runs
    Claude Code's `/compact`. A prompt that is too long anyway is still compacted and retried."""

    model_config = SECTION_CONFIG

    watermark_percent: int = Field(default=75, ge=10, le=100)
    """Compact once a turn's prompt (input and cache tokens) passes this share of the model's context
    window; 100: only when a prompt is too long."""
    context_tokens: int = Field(default=200_000, ge=10_000, le=10_000_000)
    """The model's context window in tokens."""
class Budget(BaseModel):
    """Spending limits of an agent, enforced by the hive's API gateway before a call is forwarded. Windows are
    UTC: a day from midnight, a month from the 1st. Unset: no limit of that kind. A spent budget refuses the
    agent's calls until the window resets or the limit is raised (a config change like any other)."""

    model_config = SECTION_CONFIG

    daily_tokens: int | None = Field(default=None, gt=0)
    """Tokens per UTC day, every kind counted (input, output, cache read, cache write)."""
    daily_usd: float | None = Field(default=None, gt=0)
    """Cost in USD per UTC day, from the gateway's price table."""
    monthly_usd: float | None = Field(default=None, gt=0)
    """Cost in USD per UTC calendar month."""
    max_turns_per_hour: int | None = Field(default=None, gt=0)
    """Turns started in any hour; one more and the agent is paused (the loop breaker) until the operator
    resumes it. Unset: host.toml's `[budget] max_turns_per_hour`."""
