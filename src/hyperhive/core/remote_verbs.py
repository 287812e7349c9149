"""Lifecycle verbs for an agent that another node runs, carried out by that node, told through the database.

The caller's node writes a `node_commands` row (NOTIFY `hive_commands` in the same transaction) and waits.
The agent's node claims its pending rows (`FOR UPDATE SKIP LOCKED`, so a command runs once however many
times it is told), runs the verb on its own supervisor and writes the outcome (NOTIFY `hive_command_done`).
The caller answers with that outcome: the node's own error code and sentence when it failed.

Bounded: a node already known offline is refused at once ("node n2 is offline"); a command nobody claims
within `claim_seconds` is withdrawn by the caller (a conditional update, so the node cannot run it later)
and answered the same way; a node that goes offline while it carries one out ends the wait too. A
command whose caller died waits for its node no longer than `claim_seconds` either: older rows are never
claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hyperhive.config import AgentConfig
from hyperhive.protocol import ErrorCode, HiveError
from hyperhive.store import Store, StoreError
from hyperhive.store.nodes import COMMAND_FAILED, COMMAND_PENDING, Channel, CommandRecord
from hyperhive.tasks import Tasks

from .nodes import Nodes
from .registry import AgentRegistry
from .supervisor import Supervisor

log = logging.getLogger(__name__)


class RemoteVerbs:
    def __init__(self, store: Store, registry: AgentRegistry, nodes: Nodes, claim_seconds: float) -> None:
        self.store = store
        self.registry = registry
        self.nodes = nodes
        self.node = nodes.node
        self.claim_seconds = claim_seconds
        self._waiting: dict[int, asyncio.Event] = {}
        self._local: dict[str, Callable[..., Awaitable[None]]] = {}
        self._tasks = Tasks(log, "node commands", (StoreError,))  # the next notification claims what is left
        nodes.on_down.append(lambda _node: self.wake_all())

    def elsewhere(self, name: str) -> str | None:
        """The other node that runs `name`, if it is not this one."""
        agent = self.registry.get(name)
        return agent.node if agent is not None and agent.node not in (None, self.node) else None

    # --- the caller's side ------------------------------------------------------------------------
    async def call(self, node: str, name: str, verb: str, **args: Any) -> None:
        """Have `node` run `verb` on `name`; its error is raised here as it was raised there."""
        if self.nodes.offline(node):
            raise _offline(node, name, verb)
        command_id = await self.store.add_command(node, name, verb, args)
        woken = self._waiting[command_id] = asyncio.Event()
        try:
            command = await self._outcome(command_id, node, woken)
        finally:
            del self._waiting[command_id]
        await self.registry.refresh(name)  # the answer shows what the node did, even before its own news lands
        if command.status == COMMAND_FAILED:
            known = {c.value for c in ErrorCode}
            code = ErrorCode(command.error_code) if command.error_code in known else ErrorCode.INTERNAL
            raise HiveError(code, command.error or f"node {node} could not {verb} {name}")

    async def _outcome(self, command_id: int, node: str, woken: asyncio.Event) -> CommandRecord:
        loop = asyncio.get_running_loop()
        claim_by = loop.time() + self.claim_seconds
        while True:
            woken.clear()  # before the read: news that lands during it wakes the next wait
            command = await self.store.get_command(command_id)
            if command is None:
                raise HiveError(ErrorCode.INTERNAL, f"command {command_id} vanished from the database")
            if command.finished:
                return command
            left = claim_by - loop.time()
            if command.status == COMMAND_PENDING and left <= 0:
                if await self.store.expire_command(command_id):  # withdrawn: the node can never run it now
                    raise _offline(node, command.agent, command.verb)
                continue  # claimed just now: wait for it
            if command.status != COMMAND_PENDING and self.nodes.offline(node):
                raise HiveError(ErrorCode.UNAVAILABLE, f"node {node} went offline while it was doing "
                                                       f"{command.verb} of {command.agent}; its outcome is unknown")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), left if command.status == COMMAND_PENDING else None)

    def handlers(self) -> dict[Channel, Callable[[str], None]]:
        return {Channel.COMMANDS: self._told_commands, Channel.COMMAND_DONE: self._told_done}

    def _told_done(self, payload: str) -> None:
        woken = self._waiting.get(int(payload))
        if woken is not None:
            woken.set()

    def wake_all(self) -> None:
        for woken in self._waiting.values():
            woken.set()

    # --- the agent's node's side -------------------------------------------------------------------
    async def hand_over(self, node: str, name: str, approval_id: int) -> None:
        """Have `node` do the work of an approval of its agent `name`, without waiting for it. A node that is
        down does not claim it later; it resumes approved work of its agents when it starts."""
        await self.store.add_command(node, name, "approved", {"approval_id": approval_id})

    def serve(self, supervisor: Supervisor, run_approved: Callable[[int], None]) -> None:
        """Carry out what other nodes ask of this one's agents, from now on and what waits already."""
        async def approved(name: str, approval_id: int) -> None:
            run_approved(approval_id)  # queued with this node's approved work; the caller does not wait

        self._local = {
            "approved": approved,
            "start": lambda name, why=None: supervisor.start_agent(name, why=why),
            "stop": lambda name, kill=False: supervisor.stop_agent(name, kill=kill),
            "restart": lambda name, why="the operator restarted it": supervisor.restart_agent(name, why),
            "destroy": lambda name, purge=False: supervisor.destroy_agent(name, purge),
            "revive": lambda name: supervisor.revive_agent(name),
        }
        self._tasks.spawn(self._claim)

    def _told_commands(self, node: str) -> None:
        if node == self.node and self._local:
            self._tasks.spawn(self._claim)

    def caught_up(self) -> None:
        self.wake_all()
        if self._local:
            self._tasks.spawn(self._claim)

    async def _claim(self) -> None:
        for command in await self.store.claim_commands(self.node, self.claim_seconds):
            self._tasks.spawn(functools.partial(self._run, command))

    async def _run(self, command: CommandRecord) -> None:
        code: str | None = None
        error: str | None = None
        try:
            await self.registry.refresh(command.agent)
            await self._local[command.verb](command.agent, **command.args)
        except HiveError as exc:
            code, error = exc.code.value, exc.message
        except Exception as exc:  # recorded for the caller: it must not wait for an answer that never comes
            log.exception("%s of %s for another node failed", command.verb, command.agent)
            code = ErrorCode.INTERNAL.value
            error = f"{command.verb} of {command.agent} failed on node {self.node}: {exc}"
        # The caller reads the agent's row once the command is done: the state this node left it in is
        # stored first, not whenever the observed-state publisher gets to it.
        await self.nodes.store_observed(command.agent)
        await self.store.finish_command(command.id, code, error)

    async def close(self) -> None:
        self._local = {}
        await self._tasks.close()


def _offline(node: str, name: str, verb: str) -> HiveError:
    return HiveError(ErrorCode.UNAVAILABLE, f"node {node} is offline: {verb} of {name} was not carried out")


class NodeSupervisor(Supervisor):
    """The supervisor of a node of a hive: a lifecycle verb for another node's agent goes to that node."""

    remote: RemoteVerbs | None = None

    def _forward(self, name: str) -> str | None:
        return self.remote.elsewhere(name) if self.remote is not None else None

    async def start_agent(self, name: str, *, why: str | None = None) -> None:
        if node := self._forward(name):
            return await self._call(node, name, "start", why=why)
        await super().start_agent(name, why=why)

    async def stop_agent(self, name: str, *, kill: bool = False) -> None:
        if node := self._forward(name):
            return await self._call(node, name, "stop", kill=kill)
        await super().stop_agent(name, kill=kill)

    async def restart_agent(self, name: str, why: str = "the operator restarted it", *,
                            config: AgentConfig | None = None) -> None:
        if node := self._forward(name):  # a deploy runs on the agent's node, so `config` is only ever local
            return await self._call(node, name, "restart", why=why)
        await super().restart_agent(name, why, config=config)

    async def destroy_agent(self, name: str, purge: bool) -> None:
        if node := self._forward(name):
            return await self._call(node, name, "destroy", purge=purge)
        await super().destroy_agent(name, purge)

    async def revive_agent(self, name: str) -> None:
        if node := self._forward(name):
            return await self._call(node, name, "revive")
        await super().revive_agent(name)

    async def _call(self, node: str, name: str, verb: str, **args: Any) -> None:
        self.managed(name)  # a peer or an unknown name is refused here, as on its node
        assert self.remote is not None
        await self.remote.call(node, name, verb, **args)
