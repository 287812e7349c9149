"""agent.toml: one pydantic model used by the daemon, the manager's tools and validation alike.

The file sits at the root of the agent's config repo. Unknown keys and invalid values are refused with the
key named (`restart.policy: must be 'on-failure', 'always' or 'never', not 'sometimes'`); docs/config.md is
generated from the field docstrings below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..protocol.names import MANAGER_ALIAS, MANAGER_NAME, OPERATOR
from ._toml import parse_toml, raise_config_error, validate
from .errors import KeyedValueError
from .fields import (
    ALL_AGENTS,
    HIVE_MCP_SERVER,
    AgentEnvName,
    AgentName,
    DebianPackage,
    ImageRef,
    McpServerName,
    ModelName,
    Network,
    Recipient,
    Text,
)
from .sections import BindMount, Budget, CompactionConfig, Limits, McpServer, RestartConfig, ToolsConfig

DEFAULT_MODEL = "claude-sonnet-4-5"
AGENT_TOML = "agent.toml"


class AgentConfig(BaseModel):
    """The whole of agent.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)

    name: AgentName
    """The agent's name; must match the config repo it lives in."""
    description: Text = Field(default="", max_length=2000)
    """One or two sentences: what the agent is for. Shown on the dashboard and to other agents."""
    role: Literal["agent", "manager"] = "agent"
    """`manager` only for `hm1nd`, the hive's manager; every other agent is `agent`."""
    model: ModelName = DEFAULT_MODEL
    """The Claude model the agent's turns run on."""
    available_models: list[ModelName] = []
    """Models the operator may switch the agent to from the dashboard; when set, `model` must be one of
    them. Empty: only `model`."""
    allowed_recipients: list[Recipient] = []
    """Who the agent may send to besides `operator` and `manager`, who are always reachable: agent names,
    or `*` for every agent (and broadcasts). Empty: only operator and manager."""
    network: Network | None = None
    """`private` (own network namespace, no host services) or `host`. Unset: host.toml's
    `default_network`."""
    parent: AgentName | None = None
    """The agent this one was spawned for, if any (shown as a tree on the dashboard)."""
    packages: list[DebianPackage] = []
    """Debian packages the agent's sandbox has on top of the base image, named exactly as Debian names them
    (`librsvg2-bin`, `ripgrep`); the image is built before the operator's card (docs/images.md). The process
    runtime refuses them."""
    image: ImageRef | None = None
    """Base image, for runtimes that build an image (nspawn, podman); other runtimes refuse it."""
    env: dict[AgentEnvName, Text] = {}
    """Environment variables of the agent's process. HOME, PATH, CLAUDE_CONFIG_DIR, ANTHROPIC_BASE_URL,
    ANTHROPIC_MODEL and HYPERHIVE_* are set by the harness and refused here."""
    restart: RestartConfig = RestartConfig()
    """Restart policy."""
    limits: Limits = Limits()
    """Resource limits; unset keys take the host's defaults."""
    tools: ToolsConfig = ToolsConfig()
    """Claude Code's built-in tools the agent may use (permission rules)."""
    compaction: CompactionConfig = CompactionConfig()
    """When the agent's session is compacted before it fills the model's context."""
    budget: Budget = Budget()
    """Spending limits (tokens and USD per day, USD per month); unset keys: no limit."""
    mcp_servers: dict[McpServerName, McpServer] = {}
    """Extra MCP servers by name; `hyperhive` is the hive's own and is reserved."""
    bind_mounts: list[BindMount] = []
    """Host paths visible inside the sandbox."""

    @model_validator(mode="after")
    def _consistent(self) -> AgentConfig:
        if (self.role == "manager") != (self.name == MANAGER_NAME):
            raise KeyedValueError("role", f"only {MANAGER_NAME!r} has role 'manager', and it has no other role")
        if self.available_models and self.model not in self.available_models:
            raise KeyedValueError("model", f"{self.model!r} is not in available_models")
        if self.parent == self.name:
            raise KeyedValueError("parent", "an agent cannot be its own parent")
        return self

    @field_validator("allowed_recipients", "available_models", "packages")
    @classmethod
    def _no_duplicates(cls, values: list[str]) -> list[str]:
        seen = [v for i, v in enumerate(values) if v in values[:i]]
        if seen:
            raise ValueError(f"{seen[0]!r} is listed twice")
        return values

    @field_validator("mcp_servers")
    @classmethod
    def _free_server_names(cls, servers: dict[str, McpServer]) -> dict[str, McpServer]:
        if HIVE_MCP_SERVER in servers:
            raise ValueError(f"{HIVE_MCP_SERVER!r} is the hive's own MCP server")
        return servers

    @field_validator("bind_mounts")
    @classmethod
    def _distinct_targets(cls, mounts: list[BindMount]) -> list[BindMount]:
        targets = [m.target for m in mounts]
        twice = [t for i, t in enumerate(targets) if t in targets[:i]]
        if twice:
            raise ValueError(f"target {twice[0]!r} is mounted twice")
        return mounts

    def may_send_to(self, recipient: str) -> bool:
        """The broker's rule: operator and manager are always reachable; `*` in allowed_recipients reaches
        every agent and allows broadcasts; otherwise the recipient must be listed."""
        if recipient in (OPERATOR, MANAGER_ALIAS, MANAGER_NAME):
            return True
        if ALL_AGENTS in self.allowed_recipients:
            return True
        return recipient != ALL_AGENTS and recipient in self.allowed_recipients


def load_agent_config(text: str, *, source: str = AGENT_TOML, expected_name: str | None = None) -> AgentConfig:
    """Parse and validate agent.toml text, or raise ConfigError naming every bad key.

    `expected_name`: the agent whose repo the file comes from; a different `name` is refused."""
    cfg = validate(AgentConfig, parse_toml(text, source), source)
    if expected_name is not None and cfg.name != expected_name:
        raise_config_error(source, "name", f"is {cfg.name!r}, but this is the config of {expected_name!r}")
    return cfg


def dump_agent_config(cfg: AgentConfig) -> str:
    """agent.toml text for `cfg`: unset optional keys and empty tables are left out, except
    allowed_recipients, which is always written (its empty value means something)."""
    data = cfg.model_dump(mode="json", exclude_none=True)
    pruned = _prune(data)
    pruned["allowed_recipients"] = data["allowed_recipients"]
    return tomli_w.dumps(_ordered(pruned))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _ordered(data: Mapping[str, object]) -> dict[str, object]:
    """The model's field order, so the file reads top to bottom as the docs do."""
    return {name: data[name] for name in AgentConfig.model_fields if name in data}
