"""Config as git, deployed only with the operator's approval.

`request_init_config` (approval) seeds a new agent's proposed repo from the template (built aside and
renamed into place: no half-made repo survives a crash); the manager edits and commits;
`request_apply_commit(agent, sha)` runs `_propose`: fetch (copy exactly that commit into the sealed applied
repo), validate (schema + host policy: invalid → a `failed` row and `failed/<id>`, the reason to the
manager, no card for the operator), then show the card, with the diff against what is deployed (before the
first deploy: against the seeded template). Denied → `denied/<id>`. On approval the deploy runs in the
approvals' one queue: `approved/<id>`, `building/<id>`, the agent restarted on the new config; its harness
connecting is success → `deployed/<id>` and `main` moves; anything else → `failed/<id>`, `main` stays, and
the agent is restarted on the config it had.

Approved work the daemon did not finish resumes on start; every step copes with what a kill -9 at any
moment left behind (crash points in `hyperhive.faults` name the steps the tests kill at).

In a hive over several hosts the agent's node deploys: a change proposed on another node (where the manager's
proposed repo is) names the agent's node on its approval and carries the commit as a git bundle stored with
it (config/bundles.py); that node unpacks it into its own applied repo, checks it against its own host policy
and deploys that exact sha. No node reads another's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import time
from pathlib import Path

from hyperhive.config import (
    NO_CHANGE,
    AgentConfig,
    AppliedRepo,
    BadBundle,
    ConfigError,
    PolicyError,
    ProposedRepo,
    RepoError,
    RepoMissing,
    TagKind,
    check_against_policy,
    load_agent_config,
    load_host_policy,
    manager_template,
    render_template,
    revert_commit_in_proposed,
)
from hyperhive.config.bundles import import_bundle, make_bundle
from hyperhive.config.repos import tag_ref
from hyperhive.config.settings import HiveSettings
from hyperhive.faults import crash_point
from hyperhive.gateway.spend import Spend
from hyperhive.images import ImageService
from hyperhive.images.approval import ImageBuildError, build_for_approval
from hyperhive.protocol import MANAGER_NAME, OPERATOR, ErrorCode, HiveError
from hyperhive.runtime.identity import agent_uid, drops_root, hand_over
from hyperhive.store import AgentRecord, ApprovalRecord, Store

from .agent_sockets import AgentSockets
from .announce import Announcer
from .approvals import Approvals, KindHandlers, WorkResult
from .configs import AgentConfigs
from .registry import AgentRegistry
from .states import ObservedState
from .supervisor import Supervisor

log = logging.getLogger(__name__)

SHA_PATTERN = re.compile(r"^[0-9a-f]{7,40}$")
START_CONFIRM_SECONDS = 60.0  # a deploy succeeds when the new harness connects within this


class Deployments:
    def __init__(self, settings: HiveSettings, store: Store, registry: AgentRegistry, configs: AgentConfigs,
                 approvals: Approvals, supervisor: Supervisor, agent_sockets: AgentSockets, images: ImageService,
                 spend: Spend, notify: Announcer) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.configs = configs
        self.approvals = approvals
        self.supervisor = supervisor
        self.agent_sockets = agent_sockets
        self.images = images
        self.spend = spend
        self.notify = notify

    def approval_kinds(self) -> dict[str, KindHandlers]:
        return {"init_config": KindHandlers(approved=self._init_approved),
                "apply_commit": KindHandlers(approved=self._apply_approved, closed=self._apply_closed),
                "spawn": KindHandlers(approved=self._spawn_approved)}

    async def load(self) -> None:
        await self.configs.load()

    def deployed(self, name: str) -> AgentConfig | None:
        return self.configs.deployed(name)

    def forget(self, name: str) -> None:
        self.configs.forget(name)

    def applied(self, name: str) -> AppliedRepo:
        return AppliedRepo(self.settings.state_dir, name)

    def proposed(self, name: str) -> ProposedRepo:
        return ProposedRepo(self.settings.state_dir, name)

    async def config_of(self, name: str) -> AgentConfig:
        """What the agent runs on: the config being deployed, else the deployed one."""
        return await self.configs.config_of(name)

    # --- requests (the manager's, or the operator's spawn) ----------------------------------------
    async def request_init_config(self, requested_by: str, name: str, description: str) -> ApprovalRecord:
        if self.registry.get(name) is not None or await asyncio.to_thread(self.proposed(name).exists):
            raise HiveError(ErrorCode.CONFLICT, f"{name} already exists")
        return await self.approvals.request("init_config", name, requested_by, description=description or
                                                 f"create the config repo of a new agent {name}",
                                                 payload={"agent_description": description},
                                                 node=self.settings.node)  # the proposed repo is made here

    async def request_spawn(self, requested_by: str, name: str, description: str) -> ApprovalRecord:
        """A new agent from the template, started once approved (no edit step)."""
        if self.registry.get(name) is not None or await asyncio.to_thread(self.proposed(name).exists):
            raise HiveError(ErrorCode.CONFLICT, f"{name} already exists")
        return await self.approvals.request("spawn", name, requested_by,
                                                 description=description or f"spawn a new agent {name}",
                                                 payload={"agent_description": description,
                                                          "diff": render_template(name, description)},
                                                 node=self.settings.node)  # made (and run) where it is asked for

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
        return await self._propose(requested_by, name, sha, description)

    async def _propose(self, requested_by: str, name: str, sha: str, description: str) -> ApprovalRecord:
        """fetch → validate → show: the operator gets a card only for a commit copied into the applied repo
        and valid there; a bad one is a `failed` row (and `failed/<id>`), its reason to the requester."""
        applied = self.applied(name)
        full: str | None = None
        node, base = await self._where_deployed(name)
        bundle: bytes | None = None
        try:
            full = await asyncio.to_thread(applied.import_commit, self.proposed(name), sha)  # fetch
            crash_point("propose.fetched")
            diff = await asyncio.to_thread(self._validate, name, full, base)  # validate
            crash_point("propose.validated")
            if node != self.settings.node:  # its node gets the commit through the database, with the approval
                bundle = await asyncio.to_thread(make_bundle, applied, full)
        except (ConfigError, PolicyError, RepoError) as exc:
            refused = await self.approvals.refuse("apply_commit", name, requested_by, str(exc),
                                                       description=description, commit_ref=sha, fetched_sha=full)
            if full is not None:
                await asyncio.to_thread(self._mark_refused, name, refused.id, full)
            return refused
        # Stored with its id (the build log and a failed build's tag name it), shown only once built.
        record = await self.store.add_approval(
            "apply_commit", name, requested_by, commit_ref=sha, fetched_sha=full, description=description,
            payload={"diff": diff}, status="pending", at=time.time(), node=node)
        if bundle is not None:
            await self.store.put_approval_bundle(record.id, full, bundle)
        try:
            image = await build_for_approval(self.images, self.store, applied, record.id, full)  # build
        except ImageBuildError as exc:  # apt's sentence, to the requester; no card
            failed = await self.store.resolve_approval(record.id, "failed", str(exc), time.time(), done=True)
            if failed is None:
                return await self.approvals.track(record.id)
            await asyncio.to_thread(self._mark_refused, name, record.id, full)
            await self.approvals.tell(failed)
            return failed
        if image.note or image.details:
            await self.store.update_approval(record.id, payload={"diff": diff + image.note, **image.details})
        shown = await self.approvals.track(record.id)  # show
        crash_point("propose.shown")  # the card without its tag: approving it tags it
        await asyncio.to_thread(applied.tag_proposal, record.id, full)
        return shown

    async def _where_deployed(self, name: str) -> tuple[str, str | None]:
        """The node that runs the agent (which deploys its config; this one for an agent not made yet) and
        the sha it runs, as the database says: the agent may have been made, or deployed, by another node
        since this one loaded its registry."""
        agent = await self.store.get_agent(name)
        if agent is None:
            return self.settings.node, None
        return agent.node or self.settings.node, agent.deployed_sha

    def _mark_refused(self, name: str, approval_id: int, sha: str) -> None:
        """`proposal/<id>` and `failed/<id>` for a commit that failed validation (the audit trail)."""
        applied = self.applied(name)
        try:
            applied.tag_proposal(approval_id, sha)
            applied.mark(TagKind.FAILED, approval_id)
        except RepoError:
            log.exception("approval #%d: the failed tag could not be written", approval_id)

    async def rollback(self, requested_by: str, name: str) -> ApprovalRecord:
        """The revert of the last deploy, committed in the proposed repo, as an apply_commit approval."""
        try:
            sha = await asyncio.to_thread(revert_commit_in_proposed, self.applied(name), self.proposed(name))
        except RepoError as exc:
            raise HiveError(ErrorCode.CONFLICT, str(exc)) from None
        await asyncio.to_thread(self._give_to_manager, self.proposed(name).path)  # our commit's objects too
        return await self.request_apply_commit(requested_by, name, sha, f"roll back {name} to its previous config "
                                               "(the worktree still shows the old files: git checkout -- .)")

    def _fetch_and_check(self, name: str, sha: str, approval_id: int) -> str:
        """For approved work: copy `sha` in as `proposal/<approval_id>` and validate it; its full sha."""
        full = self.applied(name).fetch_commit(self.proposed(name), sha, approval_id)
        self._validate(name, full)
        return full

    def _validate(self, name: str, full: str, deployed: str | None = None) -> str:
        """The commit's agent.toml against the schema and the host policy; the card's diff, against `deployed`
        (what the agent runs, when this repo has it) else against what this repo deployed or was seeded with."""
        applied = self.applied(name)
        config = applied.read_config_at(full)
        policy = load_host_policy(self.settings.state_dir)
        check_against_policy(config, policy, runtime=self.settings.runtime,
                             protected_paths=(self.settings.state_dir, self.settings.runtime_dir))
        if deployed is not None and deployed != applied.deployed_sha() and applied.has_commit(deployed):
            diff = applied.diff(deployed, full)
        else:
            diff = applied.diff_against_deployed(full)
        return diff if diff != NO_CHANGE else "no change: this commit's config is what is deployed"

    async def spawn_now(self, name: str, description: str, config_text: str | None) -> AgentConfig:
        """The operator's direct spawn (host.sock only): seed, deploy and start, recorded as an approved
        `spawn` approval for the audit trail."""
        if self.registry.get(name) is not None:
            raise HiveError(ErrorCode.CONFLICT, f"{name} already exists")
        if config_text is not None:
            load_agent_config(config_text, expected_name=name)  # refuse a bad one before anything is made
        payload = {"agent_description": description} | ({"config_text": config_text} if config_text else {})
        record = await self.store.add_approval(  # a crash from here on: resumed as approved work
            "spawn", name, OPERATOR, commit_ref=None, fetched_sha=None, description=description or "spawned directly",
            payload=payload, status="approved", at=time.time(),
            note="spawned directly by the operator", node=self.settings.node)
        self.approvals.hold(record.id)  # run here and now, not by the queue
        status, note = await self._seed_and_deploy(record, config_text)
        await self.store.finish_approval(record.id, status, note, time.time())
        if status != "approved":
            raise HiveError(ErrorCode.CONFLICT, note or f"{name} did not start")
        return await self.config_of(name)

    # --- approved work (in the approvals' queue) --------------------------------------------------
    async def _init_approved(self, approval: ApprovalRecord) -> WorkResult:
        name = approval.agent
        text = render_template(name, str(approval.payload.get("agent_description", "")))
        try:
            await self._seed(name, text)
        except (ConfigError, RepoError) as exc:
            return "failed", str(exc)
        await self._ensure_record(name, str(approval.payload.get("agent_description", "")), approval.requested_by)
        await self.notify("config_ready", name, {"repo": str(self.proposed(name).path),
                                                      "next": "edit agent.toml, commit, request_apply_commit"},
                               recipients=(MANAGER_NAME,))
        return "approved", f"the config repo of {name} is ready"

    async def _spawn_approved(self, approval: ApprovalRecord) -> WorkResult:
        return await self._seed_and_deploy(approval, None)

    async def _seed_and_deploy(self, approval: ApprovalRecord, config_text: str | None) -> WorkResult:
        name = approval.agent
        description = str(approval.payload.get("agent_description", ""))
        config_text = config_text or approval.payload.get("config_text") or None
        text = config_text or (manager_template() if name == MANAGER_NAME else render_template(name, description))
        try:
            head = await self._seed(name, text)
            crash_point("spawn.seeded")
            await asyncio.to_thread(self._fetch_and_check, name, head, approval.id)
            crash_point("spawn.fetched")
        except (ConfigError, PolicyError, RepoError) as exc:
            await asyncio.to_thread(self._mark_failed, name, approval.id)
            if self.registry.get(name) is None:  # a refused spawn leaves the name free
                await asyncio.to_thread(self._remove_repos, name)
            return "failed", str(exc)
        await self._ensure_record(name, description, approval.requested_by)
        crash_point("spawn.recorded")
        return await self._deploy(approval.id, name, head)

    async def _seed(self, name: str, text: str) -> str:
        """The proposed repo's seed commit, made now unless a run of this work before a crash made it (the
        seed is renamed into place whole, so a repo there is whole). A repo with no commit (left by an
        older daemon) is made again, unless the agent exists, whose repo is not ours to remove. The seed is
        kept in the applied repo as `seed`: the first card's diff is taken against it."""
        registered = self.registry.get(name) is not None
        return await asyncio.to_thread(self._seed_sync, name, text, registered)

    def _seed_sync(self, name: str, text: str, registered: bool) -> str:
        proposed = self.proposed(name)
        proposed.remove_half_seeds()
        head = proposed.head() if proposed.exists() else None
        if head is None:
            if proposed.exists():
                if registered:
                    raise RepoMissing(f"{proposed.where} has no commit; commit a config there first")
                log.warning("%s has no commit (a seed cut short): seeding it again", proposed.where)
                shutil.rmtree(proposed.path)
            head = proposed.init_from_template(text)
            self._give_to_manager(proposed.path)
        self.applied(name).record_seed(proposed, head)
        return head

    def _give_to_manager(self, path: Path) -> None:
        """hm1nd edits and commits in every proposed repo; in a bwrap sandbox it runs under its own uid
        (runtime/identity.py), so it must own them. The daemon reads them with an explicit --git-dir,
        whoever owns them; under the process runtime hm1nd runs as the daemon does and they stay its."""
        if drops_root() and self.settings.runtime == "bwrap":
            uid = agent_uid(MANAGER_NAME)
            hand_over(path, uid, uid)

    def _mark_failed(self, name: str, approval_id: int) -> None:
        applied = self.applied(name)
        try:
            if TagKind.PROPOSAL in applied.marks(approval_id):
                applied.mark(TagKind.FAILED, approval_id)
        except RepoError:
            log.exception("approval #%d: the failed tag could not be written", approval_id)

    async def _apply_approved(self, approval: ApprovalRecord) -> WorkResult:
        if approval.fetched_sha is None:  # a row an older daemon stored before it had validated the commit
            return "failed", "this request was never validated (the daemon stopped while checking it): ask again"
        try:
            await self._receive(approval.id, approval.agent, approval.fetched_sha)
            await asyncio.to_thread(self.applied(approval.agent).tag_proposal, approval.id, approval.fetched_sha)
        except (ConfigError, PolicyError, RepoError) as exc:
            return "failed", str(exc)
        await self._ensure_record(approval.agent, "", approval.requested_by)
        result = await self._deploy(approval.id, approval.agent, approval.fetched_sha)
        await self.store.drop_approval_bundle(approval.id)  # the commit is in this node's applied repo now
        return result

    async def _receive(self, approval_id: int, name: str, sha: str) -> None:
        """Bring the approved commit into this node's applied repo from its bundle in the database, when it
        was proposed on another node (a hive over several hosts), and check it against this node's host
        policy. A refused bundle raises with the reason, before anything here names the commit."""
        applied = self.applied(name)
        if await asyncio.to_thread(self._tagged, name, approval_id):
            return  # proposed and checked here (or received and checked before a restart)
        if not await asyncio.to_thread(applied.has_commit, sha):
            stored = await self.store.get_approval_bundle(approval_id)
            if stored is None:
                raise BadBundle(f"commit {sha[:12]} was proposed on another node and the database holds no "
                                f"bundle of it for approval #{approval_id}: ask again")
            try:
                await asyncio.to_thread(import_bundle, applied, stored[1], sha)
            except BadBundle as exc:
                raise BadBundle(f"the config bundle of approval #{approval_id} is refused: {exc}") from None
        await asyncio.to_thread(self._validate, name, sha)  # again after a crash before the tag: never skipped

    def _tagged(self, name: str, approval_id: int) -> bool:
        applied = self.applied(name)
        return applied.exists() and applied.ref_sha(tag_ref(TagKind.PROPOSAL, approval_id)) is not None

    async def _apply_closed(self, approval: ApprovalRecord) -> None:
        await self.store.drop_approval_bundle(approval.id)
        if approval.status != "denied":
            return
        applied = self.applied(approval.agent)
        try:
            if approval.fetched_sha is not None and await asyncio.to_thread(applied.has_commit, approval.fetched_sha):
                await asyncio.to_thread(applied.tag_proposal, approval.id, approval.fetched_sha)
                await asyncio.to_thread(applied.mark, TagKind.DENIED, approval.id)
        except RepoError:
            log.exception("approval #%d: the denied tag could not be written", approval.id)

    async def _deploy(self, approval_id: int, name: str, sha: str) -> WorkResult:
        applied = self.applied(name)
        try:
            marks = await asyncio.to_thread(applied.marks, approval_id)
            if TagKind.FAILED in marks:
                return "failed", f"the deploy of {sha[:12]} had failed before the daemon restarted"
            if TagKind.DEPLOYED in marks:  # confirmed before a crash: only the bookkeeping is left
                return await self._deployed_now(approval_id, name, sha,
                                                await asyncio.to_thread(applied.read_config_at, sha))
            await asyncio.to_thread(applied.mark, TagKind.APPROVED, approval_id)
            crash_point("deploy.approved")
            await asyncio.to_thread(applied.mark, TagKind.BUILDING, approval_id)
            crash_point("deploy.building")
            config = await asyncio.to_thread(applied.read_config_at, sha)
        except (ConfigError, RepoError) as exc:
            return "failed", f"deploy of {sha[:12]} failed: {exc}"
        had_config = await asyncio.to_thread(applied.deployed_sha) is not None
        self.configs.set_candidate(name, config)
        launched = time.monotonic()
        try:
            await self.supervisor.restart_agent(name, why=f"config {sha[:12]} deployed", config=config)
            crash_point("deploy.started")
            await self._confirm_running(name, launched)
        except HiveError as exc:
            self.configs.set_candidate(name, None)
            await asyncio.to_thread(applied.mark, TagKind.FAILED, approval_id)
            note = f"deploy of {sha[:12]} failed: {exc.message}"
            if had_config:
                with contextlib.suppress(HiveError):
                    await self.supervisor.restart_agent(name, why="rolled back after a failed deploy")
                note += "; rolled back to the previous config"
            else:
                with contextlib.suppress(HiveError):
                    await self.supervisor.stop_agent(name)
            return "failed", note
        crash_point("deploy.confirmed")
        self.configs.set_candidate(name, None)
        await asyncio.to_thread(applied.mark_deployed, approval_id)
        crash_point("deploy.deployed")
        return await self._deployed_now(approval_id, name, sha, config)

    async def _deployed_now(self, approval_id: int, name: str, sha: str, config: AgentConfig) -> WorkResult:
        self.configs.set_deployed(name, config)
        await self.spend.reconsider(name)  # a raised [budget] lifts a spent one now
        await self.registry.update(name, deployed_sha=sha, description=config.description,
                                        parent=config.parent or self.registry.require(name).parent)
        await self.notify("rebuilt", name, {"sha": sha, "approval_id": approval_id},
                               recipients=(MANAGER_NAME,))
        return "approved", f"deployed {sha[:12]}"

    async def _confirm_running(self, name: str, launched: float) -> None:
        """Push-based: wait for the new harness to say hello (or the sandbox to die first)."""
        changes = self.registry.changes.subscribe(counts=False)
        try:
            async with asyncio.timeout(START_CONFIRM_SECONDS):
                while not self.registry.connected_since(name, launched):
                    state = self.registry.observed_state(name)
                    if state not in (ObservedState.STARTING, ObservedState.RUNNING):
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
        if self.registry.get(name) is not None:
            return
        parent = requested_by if requested_by not in (OPERATOR, MANAGER_NAME) else None
        await self.registry.add(AgentRecord(name=name, kind="managed", created_at=time.time(),
                                                 description=description, parent=parent, node=self.settings.node))
        await self.agent_sockets.open(name)

