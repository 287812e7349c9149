"""Agent configuration: the agent.toml schema, the host policy, and the proposed and applied git repos."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agent_toml import DEFAULT_MODEL, AgentConfig, dump_agent_config, load_agent_config
    from .errors import (
        BadBundle,
        BadCommitRef,
        BadTransition,
        ConfigError,
        ConfigIssue,
        GitFailed,
        NothingToRollBack,
        PolicyError,
        RepoError,
        RepoExists,
        RepoMissing,
        TagConflict,
        TooLarge,
        UnknownApproval,
        UnsafeRepo,
    )
    from .host_policy import (
        HOST_TOML,
        HOST_TOML_ENV,
        HostPolicy,
        LimitValues,
        check_against_policy,
        effective_limits,
        effective_network,
        load_host_policy,
        policy_violations,
        resolve_bind_source,
    )
    from .repos import (
        MAIN,
        NO_CHANGE,
        AppliedRepo,
        ProposedRepo,
        TagKind,
        applied_repo_path,
        proposed_repo_path,
        revert_commit_in_proposed,
    )
    from .sections import BindMount, Limits, McpServer, RestartConfig
    from .templates import manager_config, manager_template, render_template

__all__ = [
    "DEFAULT_MODEL",
    "HOST_TOML",
    "HOST_TOML_ENV",
    "MAIN",
    "NO_CHANGE",
    "AgentConfig",
    "AppliedRepo",
    "BadBundle",
    "BadCommitRef",
    "BadTransition",
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
    "TooLarge",
    "UnknownApproval",
    "UnsafeRepo",
    "applied_repo_path",
    "check_against_policy",
    "dump_agent_config",
    "effective_limits",
    "effective_network",
    "load_agent_config",
    "load_host_policy",
    "manager_config",
    "manager_template",
    "policy_violations",
    "proposed_repo_path",
    "render_template",
    "resolve_bind_source",
    "revert_commit_in_proposed",
]

_MODULES = ("agent_toml", "errors", "host_policy", "repos", "sections", "templates")

if not TYPE_CHECKING:  # for mypy the names are the imports above; at run time they load on first use

    def __getattr__(name: str) -> object:
        """Import a name's module on first use, so that `hyperhive.config.settings` (all `hivectl` needs) does
        not load the agent.toml schema, the host policy and the repos (~140 ms of CPU; decisions.md)."""
        if name in __all__:
            for module in _MODULES:
                found = vars(importlib.import_module(f"{__name__}.{module}"))
                if name in found:
                    return found[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
