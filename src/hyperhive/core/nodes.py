"""This node's view of the other nodes of a hive on PostgreSQL: which are up, and what they change.

Every node beats in the `nodes` table (core/leadership.py, every third of `node_timeout`), and each beat is
NOTIFYed. Here each other node's beat re-arms a timer `node_timeout` ahead on this node's own monotonic
clock; when it fires with no beat since, the node is offline and its agents' status rows say
`node_offline` — nothing polls, and the nodes' wall clocks need not agree. A clean stop is told at once. After
every (re)connect of the listener the `nodes` table is read afresh, so a beat missed meanwhile costs nothing.

Agent rows changed on another node are NOTIFYed too (`hive_agents`): the registry re-reads that row, so
`hivectl status` on any node lists agents made or changed anywhere. The supervisor's view of this node's own
agents (running, stopped, failed, …) is written to their rows (`observed`), which is how the others show it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping

from hyperhive.protocol import HiveError
from hyperhive.store import Store, StoreError
from hyperhive.store.nodes import Channel
from hyperhive.tasks import Tasks

from .registry import AgentRegistry

log = logging.getLogger(__name__)

Handler = Callable[[str], None]


class Nodes:
    def __init__(self, store: Store, registry: AgentRegistry, node: str, timeout: float) -> None:
        self.store = store
        self.registry = registry
        self.node = node
        self.timeout = timeout
        self._up: dict[str, asyncio.TimerHandle] = {}  # other nodes seen alive: the timer that lapses each
        # the next notification or reconnect catches up on a change it could not follow
        self._tasks = Tasks(log, "could not follow another node's change", (StoreError, HiveError))
        self._publisher: asyncio.Task[None] | None = None
        self.on_down: list[Callable[[str], None]] = []  # told the name of a node that went offline

    # --- who is up --------------------------------------------------------------------------------
    def offline(self, node: str | None) -> bool:
        """Another node that stopped, missed its beats for `timeout`, or never beat at all."""
        return node is not None and node != self.node and node not in self._up

    async def refresh(self) -> None:
        """Read every node's last beat (at start, and after the listener missed news)."""
        up = {n.name: n.age for n in await self.store.list_nodes()
              if n.name != self.node and not n.stopped and n.age < self.timeout}
        for name in set(self._up) - set(up):
            self._down(name)
        for name, age in up.items():
            self._beat(name, self.timeout - age)

    def _told(self, payload: str) -> None:
        what, _, name = payload.partition(":")
        if name == self.node:
            return
        if what == "beat":
            self._beat(name, self.timeout)
        else:  # "leave": it stopped cleanly
            self._down(name)

    def _beat(self, name: str, lapses_in: float) -> None:
        old = self._up.pop(name, None)
        if old is not None:
            old.cancel()
        self._up[name] = asyncio.get_running_loop().call_later(lapses_in, self._lapsed, name)
        if old is None:
            log.info("node %s is up", name)
            self._announce(name)

    def _lapsed(self, name: str) -> None:
        self._up.pop(name, None)
        log.warning("node %s missed its heartbeats for %.0f s: its agents are node_offline", name, self.timeout)
        self._went_down(name)

    def _down(self, name: str) -> None:
        timer = self._up.pop(name, None)
        if timer is not None:
            timer.cancel()
            log.info("node %s stopped", name)
            self._went_down(name)

    def _went_down(self, name: str) -> None:
        self._announce(name)
        for listener in self.on_down:
            listener(name)

    def _announce(self, node: str) -> None:
        for agent in self.registry.all():
            if agent.node == node:
                self.registry.changes.changed(agent.name)  # its status row's state moved

    # --- listening --------------------------------------------------------------------------------
    async def watch(self, more: Mapping[Channel, Handler], caught_up: Callable[[], None]) -> None:
        """Listen for what other nodes commit: nodes' beats, agent rows, and `more` (mail, commands)."""
        def reconnected() -> None:
            caught_up()
            self._tasks.spawn(self._catch_up)

        def agent_moved(name: str) -> None:
            self._tasks.spawn(lambda: self.registry.refresh(name))

        handlers: dict[Channel, Handler] = {Channel.NODES: self._told, Channel.AGENTS: agent_moved, **more}
        await self.store.watch(handlers, reconnected)

    async def _catch_up(self) -> None:
        await self.registry.reload()
        await self.refresh()

    def approval_news(self, follow: Callable[[int, str, str], None]) -> Handler:
        """A handler for Channel.APPROVALS: `follow(id, agent, status)`, and the agent's row announced (its
        count of pending approvals moved)."""
        def told(payload: str) -> None:
            news = json.loads(payload)
            follow(int(news["id"]), str(news["agent"]), str(news["status"]))
            if self.registry.get(news["agent"]) is not None:
                self.registry.changes.changed(news["agent"])

        return told

    # --- this node's agents, as the others see them -------------------------------------------------
    def start(self) -> None:
        self._publisher = asyncio.create_task(self._publish_observed(), name="nodes-observed")

    async def _publish_observed(self) -> None:
        changes = self.registry.changes.subscribe(counts=False)  # mail moves no agent's state
        try:
            while True:
                for name in await changes.next_batch():
                    await self.store_observed(name)
        finally:
            changes.close()

    async def store_observed(self, name: str) -> None:
        agent = self.registry.get(name)
        state = self.registry.observed_state(name)
        if agent is None or state is None or agent.node not in (None, self.node) or agent.observed == state.value:
            return
        try:
            await self.registry.record(name, observed=state.value)
        except (StoreError, HiveError) as exc:  # purged meanwhile, or the database away: the next change stores it
            log.debug("observed state of %s not stored: %s", name, exc)

    async def close(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
        for timer in self._up.values():
            timer.cancel()
        self._up.clear()
        await self._tasks.close()
