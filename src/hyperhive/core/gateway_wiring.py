"""The gateway inside the daemon: where its budgets come from (each agent's deployed `[budget]`,
host.toml's `[budget]`) and whom it tells (hm1nd and the operator, the status rows, the harness)."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hyperhive.broker import Broker
from hyperhive.config import ConfigError, load_host_policy
from hyperhive.config.host_policy import HOST_TOML, HOST_TOML_ENV, HiveBudget, HostPolicy
from hyperhive.config.sections import Budget
from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.budgets import HIVE, Exhausted, Limits
from hyperhive.gateway.clock import Clock
from hyperhive.gateway.server import Gateway
from hyperhive.gateway.spend import Spend, SpendHooks
from hyperhive.protocol import HiveError
from hyperhive.protocol.replies import Control
from hyperhive.store import Store

from .announce import Announcer
from .configs import AgentConfigs
from .controls import Controls
from .events import EventLog
from .loop_breaker import LoopBreaker
from .registry import AgentRegistry

log = logging.getLogger(__name__)
NO_LIMITS = Budget()


class HiveCeilings:
    """host.toml (its `[budget]`, `[notify]`), read again only when the file changed (a stat per call)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        named = os.environ.get(HOST_TOML_ENV)
        self.path = Path(named) if named else state_dir / HOST_TOML
        self._seen: tuple[int, int] | None = None
        self._policy = HostPolicy()

    def __call__(self) -> Limits:
        return self.budget()

    def budget(self) -> HiveBudget:
        return self.policy().budget

    def policy(self) -> HostPolicy:
        try:
            stat = self.path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (0, 0)
        if key != self._seen:
            self._seen = key
            try:
                self._policy = load_host_policy(self.state_dir)
            except ConfigError as exc:  # keep the last good ceilings; the daemon says why
                log.error("host.toml not applied to budgets and notifications: %s", exc)
        return self._policy


def make_loop_breaker(registry: AgentRegistry, broker: Broker, notify: Announcer, configs: AgentConfigs,
                      clock: Clock, ceilings: HiveCeilings) -> LoopBreaker:
    async def limit_of(name: str) -> int | None:
        try:
            own = (await configs.config_of(name)).budget.max_turns_per_hour
        except HiveError:
            own = None
        return own if own is not None else ceilings.budget().max_turns_per_hour

    return LoopBreaker(registry, broker, notify, clock, limit_of)


@dataclass(frozen=True)
class GatewayParts:
    """What the gateway's hooks reach: budgets from the configs, word to the people in charge."""

    settings: HiveSettings
    store: Store
    registry: AgentRegistry
    events: EventLog
    controls: Controls
    notify: Announcer
    configs: AgentConfigs


def make_gateway(parts: GatewayParts, clock: Clock, ceilings: HiveCeilings) -> Gateway:
    async def agent_limits(name: str) -> Limits:
        try:
            return (await parts.configs.config_of(name)).budget
        except HiveError:  # a peer, or an agent not deployed yet: no budget of its own
            return NO_LIMITS

    async def exhausted(name: str, found: Exhausted) -> None:
        parts.registry.changes.changed(name)
        await parts.notify("budget_exhausted", name, {
            "budget": found.budget, "scope": "hive" if found.scope == HIVE else "agent", "limit": found.limit,
            "spent": found.spent, "resets_at": _rfc3339(found.resets_at), "detail": found.sentence()})

    async def restored(name: str) -> None:
        parts.registry.changes.changed(name)
        await parts.events.append("budget_restored", name, {})
        with contextlib.suppress(HiveError):  # no harness connected: its next turn simply goes through
            parts.controls.push(name, Control(control="budget_restored"))

    hooks = SpendHooks(agent_limits, ceilings, exhausted, restored,
                       parts.registry.changes.changed)
    return Gateway(parts.settings.runtime_dir, os.environ, Spend(parts.store, clock, hooks))


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
