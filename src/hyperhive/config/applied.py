"""The applied config repo of an agent: `<state>/applied/<name>/`, a bare repo only hive-c0re writes.

It holds exactly the commits the approval flow copied in, each under tags named after its approval; every
tag of an approval points at the commit its `proposal/<id>` tag names:

    proposal/<id>   the commit copied for approval <id> (fetch_commit)
    approved/<id>   the operator approved it           (after proposal; not after denied or failed)
    denied/<id>     the operator denied it             (after proposal; not after approved or failed)
    building/<id>   the rebuild started                (after approved; not after failed or deployed)
    deployed/<id>   the rebuild succeeded; `main` moves to the commit in the same transaction
                                                       (after approved; not after failed)
    failed/<id>     validation or the rebuild failed   (after proposal; not after deployed or denied)

`seed` (a tag of its own, no approval) names the template commit the proposed repo was seeded with: before
the first deploy, a card's diff is taken against it, so it shows what the manager changed.

`main` is the deployed config and moves only with a `deployed/<id>` tag; a failed rebuild leaves it where it
was, so the agent goes back to (or stays on) deployed_config(). (DESIGN.md says `agents/<name>/applied/`;
see paths.py for why it lives apart from `agents/`.)"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from ..protocol.names import check_agent_name
from ._commits import check_sha_syntax, resolve_commit
from ._git import git_out, run_git
from ._objects import copy_history
from ._trees import NO_CHANGE, diff_commits, read_agent_toml
from .agent_toml import AgentConfig
from .errors import BadTransition, RepoMissing, TagConflict, UnknownApproval, UnsafeRepo
from .paths import applied_repo_path, refuse_symlinks
from .proposed import ProposedRepo

__all__ = ["MAIN", "NO_CHANGE", "AppliedRepo", "TagKind", "tag_ref"]

MAIN = "refs/heads/main"
SEED = "refs/tags/seed"


class TagKind(StrEnum):
    PROPOSAL = "proposal"
    APPROVED = "approved"
    BUILDING = "building"
    DEPLOYED = "deployed"
    FAILED = "failed"
    DENIED = "denied"


# kind -> (a tag the approval must already have, tags it must not have)
_LIFECYCLE: dict[TagKind, tuple[TagKind, frozenset[TagKind]]] = {
    TagKind.APPROVED: (TagKind.PROPOSAL, frozenset({TagKind.DENIED, TagKind.FAILED})),
    TagKind.DENIED: (TagKind.PROPOSAL, frozenset({TagKind.APPROVED, TagKind.FAILED})),
    TagKind.BUILDING: (TagKind.APPROVED, frozenset({TagKind.FAILED, TagKind.DEPLOYED})),
    TagKind.DEPLOYED: (TagKind.APPROVED, frozenset({TagKind.FAILED})),
    TagKind.FAILED: (TagKind.PROPOSAL, frozenset({TagKind.DEPLOYED, TagKind.DENIED})),
}


def tag_ref(kind: TagKind | str, approval_id: int) -> str:
    """`refs/tags/<kind>/<id>`; approval ids are non-negative integers."""
    if isinstance(approval_id, bool) or not isinstance(approval_id, int) or approval_id < 0:
        raise ValueError(f"approval id must be a non-negative integer, not {approval_id!r}")
    return f"refs/tags/{TagKind(kind).value}/{approval_id}"


class AppliedRepo:
    """`<state>/applied/<name>/` (bare); the name is validated before it reaches a path."""

    def __init__(self, state_dir: Path, name: str) -> None:
        self.name = check_agent_name(name)
        self.state_dir = Path(os.path.abspath(state_dir))
        self.path = applied_repo_path(self.state_dir, name)
        self.where = f"the applied config repo of {name!r}"

    def exists(self) -> bool:
        return os.path.lexists(self.path / "HEAD")

    def ensure(self) -> None:
        """Create the bare repo if it does not exist yet."""
        refuse_symlinks(self.state_dir, self.path)
        if self.exists():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        run_git(None, "init", "--quiet", "--bare", "--template=", "--initial-branch=main", str(self.path))
        run_git(self.path, "config", "core.logAllRefUpdates", "always")  # a reflog of every tag and deploy

    def git_dir(self) -> Path:
        refuse_symlinks(self.state_dir, self.path)
        if not self.exists():
            raise RepoMissing(f"{self.where} does not exist")
        return self.path

    def resolve_commit(self, ref: object) -> str:
        """The full sha of the commit `ref` (7-40 hex digits) names here, or BadCommitRef."""
        return resolve_commit(self.git_dir(), ref, self.where)

    def fetch_commit(self, proposed: ProposedRepo, sha: str, approval_id: int) -> str:
        """Copy exactly the commit `sha` (7-40 hex digits, resolved in the proposed repo, never a ref) and
        its history into this repo as `proposal/<approval_id>`; return its full sha. Later amends or
        force-pushes in the proposed repo change nothing here. Raises BadCommitRef for anything but a sha
        naming one commit there, TagConflict if the approval already fetched another commit."""
        if proposed.name != self.name:
            raise UnsafeRepo(f"refused to fetch the proposed repo of {proposed.name!r} into {self.where}")
        existing = self.ref_sha(tag_ref(TagKind.PROPOSAL, approval_id)) if self.exists() else None
        full = proposed.resolve_commit(sha)
        if existing is None:
            self.import_commit(proposed, full)
        elif existing != full:
            raise TagConflict(f"approval {approval_id} already fetched {existing[:12]} into {self.where}")
        return self.tag_proposal(approval_id, full)

    def import_commit(self, proposed: ProposedRepo, sha: str) -> str:
        """Copy exactly the commit `sha` (7-40 hex digits, resolved in the proposed repo) and its history
        into this repo's object store, under no ref yet; return its full sha. What an approval is asked
        for is copied and validated here before any approval row exists (tag_proposal names it then)."""
        if proposed.name != self.name:
            raise UnsafeRepo(f"refused to fetch the proposed repo of {proposed.name!r} into {self.where}")
        full = proposed.resolve_commit(sha)
        self.ensure()
        copy_history(proposed.git_dir(), self.git_dir(), full, proposed.where)
        return full

    def tag_proposal(self, approval_id: int, sha: str) -> str:
        """Tag the imported commit `sha` as `proposal/<approval_id>` (again: a no-op); TagConflict if the
        approval already names another commit."""
        ref = tag_ref(TagKind.PROPOSAL, approval_id)
        full = self.resolve_commit(sha)
        existing = self.ref_sha(ref)
        if existing is not None:
            if existing != full:
                raise TagConflict(f"approval {approval_id} already fetched {existing[:12]} into {self.where}")
            return full
        self._update_refs(f"create {ref} {full}\n")
        return full

    def record_seed(self, proposed: ProposedRepo, sha: str) -> None:
        """Keep the template commit the proposed repo was seeded with as `seed` (once; again: a no-op)."""
        if self.exists() and self.ref_sha(SEED) is not None:
            return
        full = self.import_commit(proposed, sha)
        done = run_git(self.git_dir(), "update-ref", SEED, full, "", check=False)  # "": only if absent
        if done.returncode != 0 and self.ref_sha(SEED) is None:
            raise TagConflict(f"the seed could not be recorded in {self.where}: {done.stderr.decode().strip()}")

    def seed_sha(self) -> str | None:
        return self.ref_sha(SEED) if self.exists() else None

    def proposal_sha(self, approval_id: int) -> str:
        """The commit fetched for the approval, or UnknownApproval."""
        sha = self.ref_sha(tag_ref(TagKind.PROPOSAL, approval_id)) if self.exists() else None
        if sha is None:
            raise UnknownApproval(f"approval {approval_id} fetched no commit into {self.where}")
        return sha

    def marks(self, approval_id: int) -> frozenset[TagKind]:
        """The tags the approval has so far."""
        if not self.exists():
            return frozenset()
        refs = [tag_ref(kind, approval_id) for kind in TagKind]
        out = git_out(self.git_dir(), "for-each-ref", "--format=%(refname)", *refs)
        return frozenset(kind for kind, ref in zip(TagKind, refs, strict=True) if ref in out.splitlines())

    def mark(self, kind: TagKind | str, approval_id: int) -> str:
        """Tag the approval's commit `<kind>/<approval_id>` and return its sha. Marking again is a no-op;
        a step the lifecycle (see the module doc) does not allow raises BadTransition. `deployed` also
        moves `main`, in the same transaction."""
        kind = TagKind(kind)
        if kind is TagKind.PROPOSAL:
            raise BadTransition("proposal tags are made by fetch_commit")
        sha = self.proposal_sha(approval_id)
        have = self.marks(approval_id)
        if kind in have:
            return sha
        needed, excluded = _LIFECYCLE[kind]
        if needed not in have:
            raise BadTransition(f"approval {approval_id} cannot be {kind} before it is {needed} ({self.where})")
        if have & excluded:
            already = sorted(have & excluded)[0]
            raise BadTransition(f"approval {approval_id} is already {already} and cannot be {kind} ({self.where})")
        update = f"create {tag_ref(kind, approval_id)} {sha}\n"
        if kind is TagKind.DEPLOYED:
            old_main = self.deployed_sha() or "0" * len(sha)  # all zeros: main must not exist yet
            update += f"update {MAIN} {sha} {old_main}\n"
        self._update_refs(update)
        return sha

    def mark_deployed(self, approval_id: int) -> str:
        """mark(DEPLOYED): tag `deployed/<id>` and move `main` to the approval's commit."""
        return self.mark(TagKind.DEPLOYED, approval_id)

    def deployed_sha(self) -> str | None:
        """The commit `main` points to: the deployed config; None before the first deploy."""
        return self.ref_sha(MAIN) if self.exists() else None

    def deployed_config(self) -> AgentConfig | None:
        """agent.toml as deployed (at `main`); None before the first deploy."""
        sha = self.deployed_sha()
        return None if sha is None else read_agent_toml(self.git_dir(), sha, self.name)

    def deploy_history(self) -> list[tuple[int, str]]:
        """(approval id, sha) of every deploy, by approval id."""
        if not self.exists():
            return []
        out = git_out(self.git_dir(), "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/deployed/")
        history = []
        for line in out.splitlines():
            ref, sha = line.split(" ", 1)
            last = ref.rsplit("/", 1)[1]
            if last.isdigit():
                history.append((int(last), sha))
        return sorted(history)

    def previous_deployed_sha(self) -> str | None:
        """What `main` pointed to before its current commit: what a rollback returns to. Read from main's
        reflog, since approvals may be deployed out of id order; None before a second deploy."""
        current = self.deployed_sha()
        if current is None:
            return None
        done = run_git(self.git_dir(), "reflog", "show", "--format=%H", MAIN, "--", check=False)
        for sha in done.stdout.decode().split():  # newest first
            if sha != current:
                return sha
        return None

    def has_commit(self, sha: str) -> bool:
        """Whether commit `sha` (7-40 hex digits) is in this repo's object store, under a ref or not."""
        prefix = check_sha_syntax(sha)
        if not self.exists():
            return False
        return run_git(self.git_dir(), "cat-file", "-e", f"{prefix}^{{commit}}", check=False).returncode == 0

    def ref_sha(self, ref: str) -> str | None:
        done = run_git(self.git_dir(), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def read_config_at(self, sha: str) -> AgentConfig:
        """agent.toml as it is in commit `sha` (7-40 hex digits), read from the object store (no worktree),
        validated and checked to name this agent. Raises ConfigError when missing, not a file, or invalid."""
        return read_agent_toml(self.git_dir(), self.resolve_commit(sha), self.name)

    def read_proposal(self, approval_id: int) -> AgentConfig:
        """agent.toml of the commit fetched for the approval (see read_config_at)."""
        return read_agent_toml(self.git_dir(), self.proposal_sha(approval_id), self.name)

    def diff(self, from_sha: str | None, to_sha: str) -> str:
        """Unified diff of the tree of `to_sha` against that of `from_sha` (None: the empty tree, as for a
        first deploy); NO_CHANGE when the trees are identical."""
        old = self.resolve_commit(from_sha) if from_sha is not None else None
        return diff_commits(self.git_dir(), old, self.resolve_commit(to_sha))

    def diff_against_deployed(self, sha: str) -> str:
        """What deploying `sha` would change: its diff against `main`; before the first deploy, against the
        seeded template (what the manager changed), or the empty tree when no seed is on record."""
        return self.diff(self.deployed_sha() or self.seed_sha(), sha)

    def diff_proposal(self, approval_id: int) -> str:
        """What deploying the approval's commit would change (for the approval card): see
        diff_against_deployed."""
        return self.diff_against_deployed(self.proposal_sha(approval_id))

    def _update_refs(self, commands: str) -> None:
        """Apply ref updates atomically (all or none); a lost race raises TagConflict."""
        done = run_git(self.git_dir(), "update-ref", "--stdin", stdin=commands.encode(), check=False)
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip()
            raise TagConflict(f"ref update refused in {self.where}: {reason}")
