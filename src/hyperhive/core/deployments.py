"""Config as git, deployed only with the operator's approval.

`request_init_config` (approval) seeds a new agent's proposed repo from the template; the manager edits
and commits; `request_apply_commit(agent, sha)` copies exactly that commit into the sealed applied repo
(`proposal/<id>`), validates it (schema + host policy: invalid → `failed`, the reason to the manager, no
card for the operator) and asks the operator with the diff against what is deployed. On approval the
deploy runs in the approvals' one queue: `approved/<id>`, `building/<id>`, the agent restarted on the new
config; its harness connecting is success → `deployed/<id>` and `main` moves; anything else →
`failed/<id>`, `main` stays, and the agent is restarted on the config it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import time
from typing import TYPE_CHECKING

from hyperhive.config import (
    NO_CHANGE,
    AgentConfig,
    AppliedRepo,
    ConfigError,
    PolicyError,
    ProposedRepo,
    RepoError,
    TagKind,
    check_against_policy,
    load_agent_config,
    load_host_policy,
    manager_template,
    render_template,
    revert_commit_in_proposed,
)
from hyperhive.images.approval import ImageBuildError, build_for_approval
from hyperhive.protocol import MANAGER_NAME, OPERATOR, ErrorCode, HiveError
from hyperhive.store import AgentRecord, ApprovalRecord

from .approvals import KindHandlers, WorkResult

if TYPE_CHECKING:
    from .hive import Hive

log = logging.getLogger(__name__)

SHA_PATTERN = re.compile(r"^[0-9a-f]{7,40}$")
START_CONFIRM_SECONDS = 60.0  # a deploy succeeds when the new harness connects within this


class Deployments:
    def __init__(self, hive: Hive) -> None:
        self.hive = hive
        self._candidate: dict[str, AgentConfig] = {}  # the config being deployed, until it is or fails
        self._deployed: dict[str, AgentConfig] = {}  # what `main` of each applied repo holds
        hive.approvals.register("init_config", KindHandlers(approved=self._init_approved))
        hive.approvals.register("apply_commit", KindHandlers(approved=self._apply_approved))
        hive.approvals.register("spawn", KindHandlers(approved=self._spawn_approved))

    async def load(self) -> None:
        """Read every deployed config once at start (the recipient policy needs them synchronously)."""
        for agent in self.hive.registry.all():
            if agent.kind == "managed":
                config = await asyncio.to_thread(self._read_deployed, agent.name)
                if config is not None:
                    self._deployed[agent.name] = config

    def _read_deployed(self, name: str) -> AgentConfig | None:
        try:
            return self.applied(name).deployed_config()
        except (ConfigError, RepoError):
            log.exception("the deployed config of %s cannot be read", name)
            return None

    def deployed(self, name: str) -> AgentConfig | None:
        return self._deployed.get(name)

    def forget(self, name: str) -> None:
        self._deployed.pop(name, None)

    def applied(self, name: str) -> AppliedRepo:
        return AppliedRepo(self.hive.settings.state_dir, name)

    def proposed(self, name: str) -> ProposedRepo:
        return ProposedRepo(self.hive.settings.state_dir, name)

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

    # --- requests (the manager's, or the operator's spawn) ----------------------------------------
    async def request_init_config(self, requested_by: str, name: str, description: str) -> ApprovalRecord:
        if self.hive.registry.get(name) is not None or await asyncio.to_thread(self.proposed(name).exists):
            raise HiveError(ErrorCode.CONFLICT, f"{name} already exists")
        return await self.hive.approvals.request("init_config", name, requested_by, description=description or
                                                 f"create the config repo of a new agent {name}",
                                                 payload={"agent_description": description})

    async def request_spawn(self, requested_by: str, name: str, description: str) -> ApprovalRecord:
        """A new agent from the template, started once approved (no edit step)."""
        if self.hive.registry.get(name) is not None or await asyncio.to_thread(self.proposed(name).exists):
            raise HiveError(ErrorCode.CONFLICT, f"{name} already exists")
        return await self.hive.approvals.request("spawn", name, requested_by,
                                                 description=description or f"spawn a new agent {name}",
                                                 payload={"agent_description": description,
                                                          "diff": render_template(name, description)})

    async def request_apply_commit(self, requested_by: str, name: str, sha: str, description: str) -> ApprovalRecord:
        if not SHA_PATTERN.fullmatch(sha):
            raise HiveError(ErrorCode.BAD_REQUEST, f"{sha[:50]!r} is not a commit sha (7-40 lowercase hex digits)")
        proposed = self.proposed(name)
        if not await asyncio.to_thread(proposed.exists):
            raise HiveError(ErrorCode.NOT_FOUND, f"{name} has no config repo: request_init_config first")
        try:
            await asyncio.to_thread(proposed.resolve_commit, sha)
        except RepoError as exc:
            raise HiveError(ErrorCode.NOT_FOUND, str(exc)) from None
        record = await self.hive.store.add_approval(
            "apply_commit", name, requested_by, commit_ref=sha, fetched_sha=None, description=description,
            payload={}, status="pending", at=time.time())
        try:
            full, diff = await asyncio.to_thread(self._fetch_and_check, name, sha, record.id)
            image = await build_for_approval(self.hive.images, self.hive.store, self.applied(name), record.id, full)
        except (ConfigError, PolicyError, RepoError, ImageBuildError) as exc:
            failed = await self.hive.store.resolve_approval(record.id, "failed", str(exc), time.time(), done=True)
            assert failed is not None
            await self.hive.approvals.tell(failed)
            return failed
        await self.hive.store.update_approval(record.id, payload={"diff": diff + image.note, **image.details},
                                              fetched_sha=full)
        return await self.hive.approvals.track(record.id)

    async def rollback(self, requested_by: str, name: str) -> ApprovalRecord:
        """The revert of the last deploy, committed in the proposed repo, as an apply_commit approval."""
        try:
            sha = await asyncio.to_thread(revert_commit_in_proposed, self.applied(name), self.proposed(name))
        except RepoError as exc:
            raise HiveError(ErrorCode.CONFLICT, str(exc)) from None
        return await self.request_apply_commit(requested_by, name, sha, f"roll back {name} to its previous config "
                                               "(the worktree still shows the old files: git checkout -- .)")

    def _fetch_and_check(self, name: str, sha: str, approval_id: int) -> tuple[str, str]:
        applied = self.applied(name)
        full = applied.fetch_commit(self.proposed(name), sha, approval_id)
        config = applied.read_config_at(full)
        policy = load_host_policy(self.hive.settings.state_dir)
        check_against_policy(config, policy, runtime=self.hive.settings.runtime,
                             protected_paths=(self.hive.settings.state_dir, self.hive.settings.runtime_dir))
        diff = applied.diff_against_deployed(full)
        return full, diff if diff != NO_CHANGE else "no change: this commit's config is what is deployed"

    async def spawn_now(self, name: str, description: str, config_text: str | None) -> AgentConfig:
        """The operator's direct spawn (host.sock only): seed, deploy and start, recorded as an approved
        `spawn` approval for the audit trail."""
        if self.hive.registry.get(name) is not None:
            raise HiveError(ErrorCode.CONFLICT, f"{name} already exists")
        if config_text is not None:
            load_agent_config(config_text, expected_name=name)  # refuse a bad one before anything is made
        record = await self.hive.store.add_approval(
            "spawn", name, OPERATOR, commit_ref=None, fetched_sha=None, description=description or "spawned directly",
            payload={"agent_description": description}, status="approved", at=time.time(),
            note="spawned directly by the operator")
        status, note = await self._seed_and_deploy(record, config_text)
        await self.hive.store.finish_approval(record.id, status, note, time.time())
        if status != "approved":
            raise HiveError(ErrorCode.CONFLICT, note or f"{name} did not start")
        return await self.config_of(name)

    # --- approved work (in the approvals' queue) --------------------------------------------------
    async def _init_approved(self, approval: ApprovalRecord) -> WorkResult:
        name = approval.agent
        text = render_template(name, str(approval.payload.get("agent_description", "")))
        try:
            await asyncio.to_thread(self.proposed(name).init_from_template, text)
        except RepoError as exc:
            return "failed", str(exc)
        await self._ensure_record(name, str(approval.payload.get("agent_description", "")), approval.requested_by)
        await self.hive.notify("config_ready", name, {"repo": str(self.proposed(name).path),
                                                      "next": "edit agent.toml, commit, request_apply_commit"},
                               recipients=(MANAGER_NAME,))
        return "approved", f"the config repo of {name} is ready"

    async def _spawn_approved(self, approval: ApprovalRecord) -> WorkResult:
        return await self._seed_and_deploy(approval, None)

    async def _seed_and_deploy(self, approval: ApprovalRecord, config_text: str | None) -> WorkResult:
        name = approval.agent
        description = str(approval.payload.get("agent_description", ""))
        text = config_text or (manager_template() if name == MANAGER_NAME else render_template(name, description))
        proposed = self.proposed(name)
        seeded = False
        try:
            if not await asyncio.to_thread(proposed.exists):
                await asyncio.to_thread(proposed.init_from_template, text)
                seeded = True
            head = await asyncio.to_thread(proposed.head)
            assert head is not None
            await asyncio.to_thread(self._fetch_and_check, name, head, approval.id)
        except (ConfigError, PolicyError, RepoError) as exc:
            if seeded and self.hive.registry.get(name) is None:  # a refused spawn leaves the name free
                await asyncio.to_thread(self._remove_repos, name)
            return "failed", str(exc)
        await self._ensure_record(name, description, approval.requested_by)
        return await self._deploy(approval.id, name, head)

    async def _apply_approved(self, approval: ApprovalRecord) -> WorkResult:
        assert approval.fetched_sha is not None
        await self._ensure_record(approval.agent, "", approval.requested_by)
        return await self._deploy(approval.id, approval.agent, approval.fetched_sha)

    async def _deploy(self, approval_id: int, name: str, sha: str) -> WorkResult:
        applied = self.applied(name)
        await asyncio.to_thread(applied.mark, TagKind.APPROVED, approval_id)
        await asyncio.to_thread(applied.mark, TagKind.BUILDING, approval_id)
        config = await asyncio.to_thread(applied.read_config_at, sha)
        had_config = await asyncio.to_thread(applied.deployed_sha) is not None
        self._candidate[name] = config
        launched = time.monotonic()
        try:
            await self.hive.supervisor.restart_agent(name, why=f"config {sha[:12]} deployed")
            await self._confirm_running(name, launched)
        except HiveError as exc:
            self._candidate.pop(name, None)
            await asyncio.to_thread(applied.mark, TagKind.FAILED, approval_id)
            note = f"deploy of {sha[:12]} failed: {exc.message}"
            if had_config:
                with contextlib.suppress(HiveError):
                    await self.hive.supervisor.restart_agent(name, why="rolled back after a failed deploy")
                note += "; rolled back to the previous config"
            else:
                with contextlib.suppress(HiveError):
                    await self.hive.supervisor.stop_agent(name)
            return "failed", note
        self._candidate.pop(name, None)
        await asyncio.to_thread(applied.mark_deployed, approval_id)
        self._deployed[name] = config
        await self.hive.registry.update(name, deployed_sha=sha, description=config.description,
                                        parent=config.parent)
        await self.hive.notify("rebuilt", name, {"sha": sha, "approval_id": approval_id},
                               recipients=(MANAGER_NAME,))
        return "approved", f"deployed {sha[:12]}"

    async def _confirm_running(self, name: str, launched: float) -> None:
        """Push-based: wait for the new harness to say hello (or the sandbox to die first)."""
        changes = self.hive.registry.changes.subscribe()
        try:
            async with asyncio.timeout(START_CONFIRM_SECONDS):
                while not self.hive.registry.connected_since(name, launched):
                    state = self.hive.registry.lifecycle(name)
                    if state not in ("starting", "running"):
                        raise HiveError(ErrorCode.CONFLICT, f"it {state} right after starting")
                    await changes.next_batch()
        except TimeoutError:
            raise HiveError(ErrorCode.CONFLICT,
                            f"its harness did not connect within {START_CONFIRM_SECONDS:g} s") from None
        finally:
            changes.close()

    def _remove_repos(self, name: str) -> None:
        for path in (self.proposed(name).path, self.applied(name).path):
            shutil.rmtree(path, ignore_errors=True)

    async def _ensure_record(self, name: str, description: str, requested_by: str) -> None:
        if self.hive.registry.get(name) is not None:
            return
        parent = requested_by if requested_by not in (OPERATOR, MANAGER_NAME) else None
        await self.hive.registry.add(AgentRecord(name=name, kind="managed", created_at=time.time(),
                                                 description=description, parent=parent))
        await self.hive.agent_sockets.open(name)
