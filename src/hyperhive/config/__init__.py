"""Agent configuration: the agent.toml schema, the host policy, and the proposed and applied git repos."""

from __future__ import annotations

from .agent_toml import DEFAULT_MODEL, AgentConfig, dump_agent_config, load_agent_config
from .errors import (
    BadCommitRef,
    ConfigError,
    ConfigIssue,
    GitFailed,
    NothingToRollBack,
    PolicyError,
    RepoError,
    RepoExists,
    RepoMissing,
    TagConflict,
    UnsafeRepo,
)
from .host_policy import (
    HostPolicy,
    LimitValues,
    check_against_policy,
    effective_limits,
    effective_network,
    load_host_policy,
    policy_violations,
    resolve_bind_source,
)
from .repos import NO_CHANGE, AppliedRepo, ProposedRepo, TagKind, revert_commit_in_proposed
from .sections import BindMount, Limits, McpServer, RestartConfig
from .templates import manager_config, manager_template, render_template

__all__ = [
    "DEFAULT_MODEL",
    "NO_CHANGE",
    "AgentConfig",
    "AppliedRepo",
    "BadCommitRef",
    "BindMount",
    "ConfigError",
    "ConfigIssue",
    "GitFailed",
    "HostPolicy",
    "LimitValues",
    "Limits",
    "McpServer",
    "NothingToRollBack",
    "PolicyError",
    "ProposedRepo",
    "RepoError",
    "RepoExists",
    "RepoMissing",
    "RestartConfig",
    "TagConflict",
    "TagKind",
    "UnsafeRepo",
    "check_against_policy",
    "dump_agent_config",
    "effective_limits",
    "effective_network",
    "load_agent_config",
    "load_host_policy",
    "manager_config",
    "manager_template",
    "policy_violations",
    "render_template",
    "resolve_bind_source",
    "revert_commit_in_proposed",
]
