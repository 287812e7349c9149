"""The loop breaker: an agent that starts more turns in an hour than its `max_turns_per_hour` (agent.toml
`[budget]`, else host.toml's `[budget]` default) is paused, and hm1nd, the operator and the agent itself are
told why. Two agents answering each other forever cost a turn each per message; this stops them.
`hivectl resume NAME` lifts the pause and starts the count afresh."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Awaitable, Callable

from hyperhive.broker import Broker
from hyperhive.gateway.clock import Clock
from hyperhive.protocol import SYSTEM_SENDER

from .announce import Announcer
from .registry import AgentRegistry

HOUR = 3600.0
NOTE = ("You were paused by the hive's loop breaker: {count} turns in the last hour, more than your "
        "max_turns_per_hour ({limit}). The operator lifts it with `hivectl resume {name}`.")


class LoopBreaker:
    def __init__(self, registry: AgentRegistry, broker: Broker, notify: Announcer, clock: Clock,
                 limit_of: Callable[[str], Awaitable[int | None]]) -> None:
        self.registry = registry
        self.broker = broker
        self.notify = notify
        self.clock = clock
        self.limit_of = limit_of
        self._starts: dict[str, deque[float]] = defaultdict(deque)

    async def turn_started(self, name: str) -> None:
        limit = await self.limit_of(name)
        if limit is None:
            return
        now = self.clock.now()
        starts = self._starts[name]
        starts.append(now)
        while starts and starts[0] <= now - HOUR:
            starts.popleft()
        agent = self.registry.get(name)
        if len(starts) > limit and agent is not None and not agent.paused:
            await self._trip(name, len(starts), limit)

    def forget(self, name: str) -> None:
        """A resumed agent starts counting afresh."""
        self._starts.pop(name, None)

    async def _trip(self, name: str, count: int, limit: int) -> None:
        await self.registry.update(name, paused=True)
        reason = f"{count} turns in the last hour, over max_turns_per_hour = {limit}"
        await self.notify("loop_breaker", name, {"reason": reason, "turns": count, "limit": limit,
                                                      "resume": f"hivectl resume {name}"})
        await self.broker.deliver(SYSTEM_SENDER, [name], NOTE.format(count=count, limit=limit, name=name))
