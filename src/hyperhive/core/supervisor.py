"""The lifecycle of managed agents: start, stop, restart, kill, rebuild, destroy, revive — and what
happens when one exits on its own.

Agents run under the runtime's keepers, so they outlive this daemon: `start()` re-adopts every sandbox an
earlier daemon started and notices the ones that died meanwhile. An exit is pushed by the runtime's
watch (a pidfd), never polled for: a `container_crash` event (exit status, signal, log tail) goes to the
manager's and the operator's inboxes, then a restart per the agent's policy, on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable

from hyperhive.broker import Broker
from hyperhive.config import AgentConfig, ConfigError, PolicyError, RestartConfig, load_host_policy
from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.server import Gateway
from hyperhive.images import ImageBuildError, ImageService
from hyperhive.protocol import MANAGER_NAME, SYSTEM_SENDER, ErrorCode, HiveError
from hyperhive.runtime.auto import make_runtime
from hyperhive.runtime.base import ExitInfo, Runtime, SandboxHandle, SandboxState
from hyperhive.runtime.errors import SandboxError
from hyperhive.runtime.local import LocalConfig
from hyperhive.store import AgentRecord, Store
from hyperhive.tasks import Tasks

from .agent_sockets import AgentSockets
from .announce import Announcer
from .builds import Build, build_for
from .configs import AgentConfigs
from .events import EventLog
from .logs import agent_log_dir
from .registry import AgentRegistry
from .restart_policy import RestartPolicy, Verdict
from .sandbox_spec import AGENT_TOML, agent_state_dir, claude_bin, harness_spec
from .states import LIVE_STATES, ObservedState, WantedState

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30
RESTARTED_NOTE = ("You were restarted by the hive ({why}). Your Claude session and your home are intact; "
                  "carry on where you left off.")


class Supervisor:
    def __init__(self, settings: HiveSettings, store: Store, registry: AgentRegistry, events: EventLog,
                 broker: Broker, notify: Announcer, configs: AgentConfigs, images: ImageService, gateway: Gateway,
                 agent_sockets: AgentSockets, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.events = events
        self.broker = broker
        self.notify = notify
        self.configs = configs  # what a start runs: the deployed config (a deploy hands its own to restart_agent)
        self.images = images
        self.gateway = gateway
        self.agent_sockets = agent_sockets
        self.runtime = runtime or make_runtime(settings.runtime, LocalConfig(settings.runtime_dir))
        self._handles: dict[str, SandboxHandle] = {}
        self._unwatch: dict[str, Callable[[], None]] = {}
        self._restart_timers: dict[str, asyncio.TimerHandle] = {}
        self.restart_policy = RestartPolicy()
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks = Tasks(log, "lifecycle")

    @property
    def warning(self) -> str | None:
        return self.runtime.warning

    # --- daemon start and stop --------------------------------------------------------------------
    async def start(self) -> None:
        """Re-adopt running sandboxes; bring back agents that should run but do not."""
        if self.warning:
            log.warning("runtime %s: %s", self.runtime.kind, self.warning)
        handles = {h.name: h for h in await self.runtime.handles()}
        for agent in self.registry.all():
            if agent.kind == "managed" and self.runs_here(agent):
                await self._adopt(agent, handles.get(agent.name))

    def runs_here(self, agent: AgentRecord) -> bool:
        """An agent's sandbox is run by its own node's supervisor only (a hive over several hosts)."""
        return agent.node in (None, self.settings.node)

    async def _adopt(self, agent: AgentRecord, handle: SandboxHandle | None) -> None:
        """What an earlier daemon left: the wanted state (stored) meets the sandbox (if any)."""
        name, wanted, change_state = agent.name, agent.lifecycle, self.registry.change_state
        if wanted == WantedState.DESTROYED:
            change_state(name, ObservedState.DESTROYED)  # (none) -> DESTROYED: a tombstone
            return
        if handle is None and wanted == WantedState.FAILED:
            change_state(name, ObservedState.FAILED)  # (none) -> FAILED: the restart policy gave up; it stays down
            return
        if handle is None:
            change_state(name, ObservedState.STOPPED)  # (none) -> STOPPED: no sandbox (the host restarted)
            if wanted == WantedState.RUNNING:
                self._restart_soon(name, "the host restarted")
            return
        status = await self.runtime.adopt(handle)
        self._handles[name] = handle
        if status.state is SandboxState.RUNNING:
            log.info("adopted %s (pid %s)", name, status.pid)
            change_state(name, ObservedState.RUNNING)  # (none) -> RUNNING: adopted alive
            self._watch(name, handle)
            await self._tell_if_outdated(name)
        elif wanted == WantedState.RUNNING and status.exit is not None:
            await self._exited(name, status.exit, while_away=True)
        elif wanted == WantedState.FAILED:
            change_state(name, ObservedState.FAILED)  # (none) -> FAILED: left failed, and its sandbox ended
        else:
            change_state(name, ObservedState.STOPPED)  # (none) -> STOPPED: its sandbox ended, as wanted

    async def close(self) -> None:
        """The daemon stops; the agents do not."""
        for cancel in self._unwatch.values():
            cancel()
        self._unwatch.clear()
        for timer in self._restart_timers.values():
            timer.cancel()
        await self._tasks.close()

    # --- verbs ------------------------------------------------------------------------------------
    async def start_agent(self, name: str, *, why: str | None = None) -> None:
        self._living(name)
        async with self._locks[name]:
            self._cancel_restart(name)
            if self.registry.observed_state(name) is ObservedState.RUNNING:
                return
            await self._launch(name, why)

    async def stop_agent(self, name: str, *, kill: bool = False) -> None:
        self.managed(name)
        async with self._locks[name]:
            self._cancel_restart(name)
            await self.registry.want(name, WantedState.STOPPED)
            await self._stop(name, kill=kill)

    async def kill_agent(self, name: str) -> None:
        await self.stop_agent(name, kill=True)

    async def restart_agent(self, name: str, why: str = "the operator restarted it", *,
                            config: AgentConfig | None = None) -> None:
        """Also the rebuild: every start reads the deployed config afresh, unless a deploy hands it the
        config it deploys."""
        self._living(name)
        async with self._locks[name]:
            self._cancel_restart(name)
            await self._stop(name, kill=False)
            self.restart_policy.forget(name)  # a deliberate restart starts the crash count afresh
            await self._launch(name, why, config)

    async def destroy_agent(self, name: str, purge: bool) -> None:
        """Stop it and remove its sandbox. The record stays as a tombstone with its state, config and
        credentials, unless `purge`; its messages stay either way."""
        self.managed(name)
        async with self._locks[name]:
            self._cancel_restart(name)
            await self._stop(name, kill=False)
            handle = self._handles.pop(name, None)
            if handle is not None:
                await self.runtime.destroy(handle)
            await self.agent_sockets.close(name, remove_dir=purge)
            if purge:
                await asyncio.to_thread(self._purge_files, name)
                await self.registry.remove(name)
                self.configs.forget(name)
                await self._drop_mail(name)
            else:
                await self.registry.want(name, WantedState.DESTROYED)
                self.registry.change_state(name, ObservedState.DESTROYED)  # STOPPED -> DESTROYED
        await self.notify("destroyed", name, {"purged": purge})

    async def revive_agent(self, name: str) -> None:
        agent = self.managed(name)
        if agent.lifecycle != WantedState.DESTROYED:
            raise HiveError(ErrorCode.CONFLICT, f"{name} is not destroyed")
        await self.agent_sockets.open(name)
        await self.registry.want(name, WantedState.STOPPED)
        await self.start_agent(name, why="the operator revived it")

    # --- what runs, and what a restart would run ----------------------------------------------------
    def build_now(self, name: str) -> Build:
        """What a start of `name` would run now."""
        return build_for(self.configs.deployed(name), claude_bin(self.settings), name)

    def outdated(self, name: str) -> list[str]:
        """What differs between the running sandbox and a restart now (config, harness, cli, image); empty
        when it is not running or was started before builds were recorded."""
        agent = self.registry.get(name)
        if (agent is None or agent.kind != "managed"
                or self.registry.observed_state(name) is not ObservedState.RUNNING):
            return []
        running = Build.load(agent.running_build)
        return running.differences(self.build_now(name)) if running is not None else []

    async def _tell_if_outdated(self, name: str) -> None:
        """An adopted sandbox may run what an earlier daemon started: the manager hears it once per start."""
        what = self.outdated(name)
        if what:
            await self.notify("needs_update", name, {"what": what, "next": "restart it to run the new build"},
                                   recipients=(MANAGER_NAME,))

    async def _drop_mail(self, name: str) -> None:
        """Mail still waiting for a purged agent is marked dropped, never handed to the next agent of that name
        (its record is gone first, so no new mail for the name is accepted meanwhile)."""
        self.events.turns.forget(name)
        dropped = await self.store.drop_mail(name, time.time())
        if dropped:
            await self.events.append("mail_dropped", name, {"ids": dropped, "why": "its recipient was purged"})

    # --- the machinery ----------------------------------------------------------------------------
    async def _launch(self, name: str, why: str | None, config: AgentConfig | None = None) -> None:
        config = config or await self.configs.config_of(name)
        state = agent_state_dir(self.settings, name)
        resumed = (state / ".hive" / "session.json").exists()
        await asyncio.to_thread(self._prepare_files, config)
        self.registry.change_state(name, ObservedState.STARTING)  # STOPPED/EXITED/RESTARTING/FAILED -> STARTING
        try:
            # Checked again at every start: host.toml may have changed, or a bind source's symlink since approval.
            policy = await asyncio.to_thread(load_host_policy, self.settings.state_dir)
            image = await self.images.root_for(config.packages)  # built here only if it went missing
            spec = harness_spec(self.settings, self.runtime, config, policy, _environ(),
                                protected=(self.settings.state_dir, self.settings.runtime_dir),
                                api_env=self.gateway.agent_env, image=image)
            handle = await self.runtime.create(spec)
            status = await self.runtime.start(handle)
        except (SandboxError, ConfigError, PolicyError, ImageBuildError) as exc:
            self.registry.change_state(name, ObservedState.FAILED)  # STARTING -> FAILED: it could not start
            await self.notify("start_failed", name, {"error": str(exc)})
            raise HiveError(ErrorCode.CONFLICT, f"{name} did not start: {exc}") from None
        self._handles[name] = handle
        started = build_for(config, claude_bin(self.settings), name)
        await self.registry.want(name, WantedState.RUNNING, running_build=started.dump())
        self.registry.change_state(name, ObservedState.RUNNING)  # STARTING -> RUNNING
        self._watch(name, handle)
        if status.limits is not None and status.limits.unapplied:
            await self.events.append("limits_unapplied", name, {"unapplied": list(status.limits.unapplied)})
        await self.events.append("started", name, {"pid": status.pid, "why": why or "started"})
        if resumed:  # a first start has no session to speak of
            await self.broker.deliver(SYSTEM_SENDER, [name], RESTARTED_NOTE.format(why=why or "started"))

    def _prepare_files(self, config: AgentConfig) -> None:
        name = config.name
        agent_state_dir(self.settings, name).mkdir(parents=True, exist_ok=True, mode=0o700)
        agent_log_dir(self.settings.state_dir, name).mkdir(parents=True, exist_ok=True)
        from hyperhive.config import dump_agent_config

        target = self.settings.agent_socket_dir(name) / AGENT_TOML
        tmp = target.with_suffix(".tmp")
        tmp.write_text(dump_agent_config(config))
        tmp.chmod(0o644)
        tmp.replace(target)

    async def _stop(self, name: str, *, kill: bool) -> None:
        handle = self._handles.get(name)
        observed = self.registry.observed_state(name)
        if handle is None or observed not in LIVE_STATES:
            if observed is not ObservedState.DESTROYED:
                # EXITED/RESTARTING/FAILED/(none) -> STOPPED: nothing runs, and now nothing is wanted
                self.registry.change_state(name, ObservedState.STOPPED)
            return
        self._stop_watching(name)
        self.registry.change_state(name, ObservedState.STOPPING)  # RUNNING/STARTING -> STOPPING
        if kill:
            info = await self.runtime.kill(handle)
        else:
            timeout = (await self._restart_config(name)).stop_timeout_seconds
            info = await self.runtime.stop(handle, timeout)
        self.registry.change_state(name, ObservedState.STOPPED)  # STOPPING -> STOPPED
        self._gone(name)
        await self.events.append("killed" if kill else "stopped", name,
                                      {"exit": info.describe() if info else None})

    def _watch(self, name: str, handle: SandboxHandle) -> None:
        self._stop_watching(name)

        def on_exit(info: ExitInfo) -> None:
            self._unwatch.pop(name, None)
            self._tasks.spawn(lambda: self._exited(name, info), f"exit of {name}")

        self._unwatch[name] = self.runtime.watch(handle, on_exit)

    def _stop_watching(self, name: str) -> None:
        cancel = self._unwatch.pop(name, None)
        if cancel is not None:
            cancel()

    async def _exited(self, name: str, info: ExitInfo, while_away: bool = False) -> None:
        """An exit nobody asked for (a requested stop stops watching first)."""
        self._gone(name)
        if info.requested or self.registry.get(name) is None:
            self.registry.change_state(name, ObservedState.STOPPED)  # RUNNING -> STOPPED: asked for
            return
        handle = self._handles.get(name)
        tail = await self.runtime.logs(handle, LOG_TAIL_LINES) if handle is not None else []
        await self.notify("container_crash", name, {
            "exit": info.describe(), "returncode": info.returncode, "signal": info.signal,
            "ended_at": info.ended_at, "while_daemon_was_down": while_away, "log_tail": tail})
        decision = self.restart_policy.decide(name, await self._restart_config(name),
                                        clean=info.returncode == 0 and info.signal is None)
        if decision.verdict is Verdict.STAY_DOWN:
            self.registry.change_state(name, ObservedState.EXITED)  # RUNNING -> EXITED
            await self.registry.want(name, WantedState.STOPPED)
            return
        if decision.verdict is Verdict.GIVE_UP:
            self.registry.change_state(name, ObservedState.FAILED)  # RUNNING -> FAILED: the window is full
            await self.registry.want(name, WantedState.FAILED)  # a restarted daemon leaves it down too
            await self.notify("agent_failed", name, {"note": decision.note})
            return
        self.registry.change_state(name, ObservedState.RESTARTING)  # RUNNING -> RESTARTING
        loop = asyncio.get_running_loop()
        self._restart_timers[name] = loop.call_later(decision.delay, self._restart_soon, name, f"it {info.describe()}")

    def _restart_soon(self, name: str, why: str) -> None:
        """Restart `name` now (its restart timer fired, or the host restarted while it was wanted running)."""
        self._tasks.spawn(lambda: self._restart(name, why), f"restart of {name}")

    async def _restart(self, name: str, why: str) -> None:
        self._restart_timers.pop(name, None)
        agent = self.registry.get(name)
        if agent is None or agent.lifecycle != WantedState.RUNNING:
            return
        async with self._locks[name]:
            try:
                await self._launch(name, why)
            except HiveError as exc:
                log.warning("restart of %s failed: %s", name, exc.message)

    def _gone(self, name: str) -> None:
        """The harness is dead: what it last said it was doing is no longer true (its connection may sit in
        a long recv until the wait ends; presence for managed agents comes from the lifecycle)."""
        if self.registry.get(name) is not None:
            self.registry.set_activity(name, None)

    def _cancel_restart(self, name: str) -> None:
        timer = self._restart_timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    async def _restart_config(self, name: str) -> RestartConfig:
        try:
            return (await self.configs.config_of(name)).restart
        except HiveError:
            return RestartConfig()

    def _living(self, name: str) -> AgentRecord:
        """A managed agent that is not a tombstone."""
        agent = self.managed(name)
        if agent.lifecycle == WantedState.DESTROYED:
            raise HiveError(ErrorCode.CONFLICT, f"{name} is destroyed; revive it first")
        return agent

    def managed(self, name: str) -> AgentRecord:
        agent = self.registry.require(name)
        if agent.kind == "peer":
            raise HiveError(ErrorCode.NOT_ALLOWED, f"{name} is a peer: the hive does not own its lifecycle "
                                                   "(its own container starts and stops it)")
        return agent

    def _purge_files(self, name: str) -> None:
        settings = self.settings
        for path in (settings.state_dir / "agents" / name, settings.state_dir / "configs" / name,
                     settings.state_dir / "applied" / name, agent_log_dir(settings.state_dir, name)):
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(path)


def _environ() -> dict[str, str]:
    return dict(os.environ)
