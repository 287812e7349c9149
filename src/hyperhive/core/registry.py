"""The agent registry: every agent the hive knows (managed or peer), with its live presence.

Durable fields live in the store; this keeps a cached copy (the daemon is the only writer) plus what
is only true while the daemon runs: open connections and lifecycle state. Every change is announced on
`changes`, which feeds `subscribe_agent_status` and the dashboard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from hyperhive.protocol import ErrorCode, HiveError
from hyperhive.store import AgentRecord, Store

from .changes import ChangeFeed
from .states import ObservedState, WantedState

log = logging.getLogger(__name__)

# A peer that only heartbeats (no open connection) counts as running this long after its last beat.
PRESENCE_WINDOW_SECONDS = 30.0


class AgentRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.changes = ChangeFeed()
        self._agents: dict[str, AgentRecord] = {}
        self._connections: Counter[str] = Counter()
        self._observed: dict[str, ObservedState] = {}  # managed agents: set by the supervisor
        self._presence_timers: dict[str, asyncio.TimerHandle] = {}
        self._heartbeats: dict[str, float] = {}  # monotonic time of the last explicit heartbeat
        self._connected_at: dict[str, float] = {}  # monotonic time of the last presence connection
        self._activity: dict[str, tuple[str, str | None]] = {}  # harness-reported: (activity, detail)

    async def load(self) -> None:
        self._agents = {a.name: a for a in await self.store.list_agents()}

    async def refresh(self, name: str) -> None:
        """Re-read one agent's row that another node changed (core/nodes.py); announce it if it moved."""
        agent = await self.store.get_agent(name)
        if agent != self._agents.get(name):
            if agent is None:
                self._agents.pop(name, None)
            else:
                self._agents[name] = agent
            self.changes.changed(name)

    async def reload(self) -> None:
        """Re-read every row (after missing other nodes' news); announce the ones that moved."""
        fresh = {a.name: a for a in await self.store.list_agents()}
        moved = {n for n in fresh.keys() | self._agents.keys() if fresh.get(n) != self._agents.get(n)}
        self._agents = fresh
        for name in sorted(moved):
            self.changes.changed(name)

    # --- Directory (for the broker) ---------------------------------------------------------------
    def is_agent(self, name: str) -> bool:
        return name in self._agents

    def agent_names(self) -> list[str]:
        return sorted(self._agents)

    # --- records ----------------------------------------------------------------------------------
    def get(self, name: str) -> AgentRecord | None:
        return self._agents.get(name)

    def require(self, name: str) -> AgentRecord:
        agent = self._agents.get(name)
        if agent is None:
            raise HiveError(ErrorCode.NOT_FOUND, f"no agent named {name!r} in this hive")
        return agent

    def all(self) -> list[AgentRecord]:
        return [self._agents[name] for name in sorted(self._agents)]

    async def add(self, agent: AgentRecord) -> None:
        if agent.name in self._agents:
            raise HiveError(ErrorCode.CONFLICT, f"an agent named {agent.name!r} already exists")
        await self.store.create_agent(agent)
        self._agents[agent.name] = agent
        self.changes.changed(agent.name)

    async def remove(self, name: str) -> None:
        self.require(name)
        await self.store.delete_agent(name)
        self._agents.pop(name, None)
        self._observed.pop(name, None)
        self._activity.pop(name, None)
        self._heartbeats.pop(name, None)
        timer = self._presence_timers.pop(name, None)
        if timer:
            timer.cancel()
        self.changes.changed(name)

    async def update(self, name: str, **fields: Any) -> AgentRecord:
        self.require(name)
        agent = await self.store.update_agent(name, **fields)
        self._agents[name] = agent
        self.changes.changed(name)
        return agent

    async def record(self, name: str, **fields: Any) -> None:
        """Store fields no status row of this node shows (its `observed` state, for the other nodes), without
        announcing a change here: subscribers would get a row identical to the last one."""
        self.require(name)
        self._agents[name] = await self.store.update_agent(name, **fields)

    async def want(self, name: str, state: WantedState, **fields: Any) -> AgentRecord:
        """Store the state the agent should be in (a restarted daemon goes by it), with other fields."""
        return await self.update(name, lifecycle=state.value, **fields)

    # --- hierarchy --------------------------------------------------------------------------------
    def descendants(self, name: str) -> set[str]:
        """Every agent below `name` through parent links (not `name` itself)."""
        children: dict[str, list[str]] = {}
        for agent in self._agents.values():
            if agent.parent:
                children.setdefault(agent.parent, []).append(agent.name)
        found: set[str] = set()
        todo = list(children.get(name, []))
        while todo:
            child = todo.pop()
            if child not in found and child != name:
                found.add(child)
                todo += children.get(child, [])
        return found

    async def set_parent(self, name: str, parent: str | None) -> AgentRecord:
        """Hang `name` under `parent` (None: at the top). The tree stays a tree: no agent under itself."""
        self.require(name)
        if parent is not None:
            self.require(parent)
            if parent == name or parent in self.descendants(name):
                raise HiveError(ErrorCode.CONFLICT, f"{parent} is {name} or below it: {name} cannot hang under it")
        return await self.update(name, parent=parent)

    # --- live state -------------------------------------------------------------------------------
    def connections(self, name: str) -> int:
        return self._connections[name]

    def observed_state(self, name: str) -> ObservedState | None:
        """What a managed agent's sandbox is doing now, as the supervisor last saw it."""
        return self._observed.get(name)

    def activity(self, name: str) -> tuple[str, str | None] | None:
        return self._activity.get(name)

    def set_activity(self, name: str, activity: str | None, detail: str | None = None) -> None:
        current = self._activity.get(name)
        new = (activity, detail) if activity else None
        if current != new:
            if new is None:
                self._activity.pop(name, None)
            else:
                self._activity[name] = new
            self.changes.changed(name)

    def change_state(self, name: str, new: ObservedState) -> None:
        """The one way the observed state changes: a change is announced on `changes` (status rows, the
        dashboard, whoever waits for a start)."""
        old = self._observed.get(name)
        if old != new:
            log.debug("%s: %s -> %s", name, old.name if old else "(none)", new.name)
            self._observed[name] = new
            self.changes.changed(name)

    async def connected(self, name: str) -> None:
        self._connections[name] += 1
        self._connected_at[name] = time.monotonic()
        await self.seen(name)

    async def disconnected(self, name: str) -> None:
        self._connections[name] -= 1
        if self._connections[name] <= 0:
            del self._connections[name]
            # A harness or serve loop that hung up is gone now; the heartbeat window is for peers that
            # only heartbeat on short connections.
            self._heartbeats.pop(name, None)
            timer = self._presence_timers.pop(name, None)
            if timer:
                timer.cancel()
            self.changes.changed(name)
        if name in self._agents:
            await self.seen(name)

    async def seen(self, name: str) -> None:
        """Record a sign of life (connect, disconnect, any verb worth it) as `last_seen`."""
        if name in self._agents:
            await self.update(name, last_seen=time.time())

    async def heartbeat(self, name: str) -> None:
        """An explicit heartbeat keeps an agent present for the window after it; a timer (not a poll)
        re-announces the row when the window closes, so watchers see it go offline on time."""
        self._heartbeats[name] = time.monotonic()
        await self.seen(name)
        old = self._presence_timers.pop(name, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._presence_timers[name] = loop.call_later(PRESENCE_WINDOW_SECONDS + 0.01, self.changes.changed, name)

    def connected_since(self, name: str, since: float) -> bool:
        """A presence connection (harness or serve) made after `since` (monotonic) is still open."""
        return self._connections[name] > 0 and self._connected_at.get(name, 0.0) > since

    def present(self, name: str) -> bool:
        """A live connection, or a heartbeat within the presence window."""
        if self._connections[name] > 0:
            return True
        beat = self._heartbeats.get(name)
        return beat is not None and time.monotonic() - beat < PRESENCE_WINDOW_SECONDS

    def close(self) -> None:
        for timer in self._presence_timers.values():
            timer.cancel()
        self._presence_timers.clear()
