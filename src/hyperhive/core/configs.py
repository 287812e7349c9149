"""The agents' configs as the running hive reads them: each managed agent's deployed agent.toml (read once
at start, then kept as deploys change it) and, while a deploy is under way, the config being deployed.
Deployments writes them; the supervisor, the gateway, the recipient policy and the loop breaker read them,
so none of those needs Deployments (whose deploys call the supervisor)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hyperhive.config import AgentConfig, AppliedRepo, ConfigError, RepoError
from hyperhive.protocol import ErrorCode, HiveError

from .registry import AgentRegistry

log = logging.getLogger(__name__)


class AgentConfigs:
    def __init__(self, state_dir: Path, registry: AgentRegistry) -> None:
        self.state_dir = state_dir
        self.registry = registry
        self._candidate: dict[str, AgentConfig] = {}  # the config being deployed, until it is or fails
        self._deployed: dict[str, AgentConfig] = {}  # what `main` of each applied repo holds

    async def load(self) -> None:
        """Read every deployed config once at start (the recipient policy needs them synchronously)."""
        for agent in self.registry.all():
            if agent.kind == "managed":
                config = await asyncio.to_thread(self._read_deployed, agent.name)
                if config is not None:
                    self._deployed[agent.name] = config

    def _read_deployed(self, name: str) -> AgentConfig | None:
        try:
            return AppliedRepo(self.state_dir, name).deployed_config()
        except (ConfigError, RepoError):
            log.exception("the deployed config of %s cannot be read", name)
            return None

    def deployed(self, name: str) -> AgentConfig | None:
        return self._deployed.get(name)

    def set_deployed(self, name: str, config: AgentConfig) -> None:
        self._deployed[name] = config

    def forget(self, name: str) -> None:
        self._deployed.pop(name, None)

    def set_candidate(self, name: str, config: AgentConfig | None) -> None:
        """The config a deploy under way starts the agent on (None: the deploy ended)."""
        if config is None:
            self._candidate.pop(name, None)
        else:
            self._candidate[name] = config

    async def config_of(self, name: str) -> AgentConfig:
        """What the agent runs on: the config being deployed, else the deployed one."""
        if name in self._candidate:
            return self._candidate[name]
        if name in self._deployed:
            return self._deployed[name]
        config = await asyncio.to_thread(self._read_deployed, name)
        if config is None:
            raise HiveError(ErrorCode.CONFLICT, f"{name} has no deployed config yet: request_apply_commit first")
        self._deployed[name] = config
        return config
