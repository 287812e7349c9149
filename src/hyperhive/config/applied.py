"""The applied config repo of an agent: `<state>/applied/<name>/`, a bare repo only hive-c0re writes.

It holds exactly the commits the approval flow fetched, each under tags named after its approval:

    proposal/<id>   the commit fetched for approval <id> (refs/tags/proposal/<id>)
    approved/<id>  building/<id>  failed/<id>  denied/<id>   the approval's later states
    deployed/<id>   set together with `main`, by mark_deployed only

`main` is the deployed config and moves only in mark_deployed. (DESIGN.md says `agents/<name>/applied/`;
see paths.py for why it lives apart from `agents/`.)"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from ..protocol.names import check_agent_name
from ._commits import resolve_commit
from ._git import git_out, run_git
from .agent_toml import AGENT_TOML, AgentConfig, load_agent_config
from .errors import ConfigError, ConfigIssue, RepoMissing, TagConflict, UnsafeRepo
from .paths import applied_repo_path, refuse_symlinks
from .proposed import ProposedRepo

MAIN = "refs/heads/main"
NO_CHANGE = "(no change: the tree is identical to the deployed one)"
MAX_AGENT_TOML_BYTES = 256 * 1024


class TagKind(StrEnum):
    PROPOSAL = "proposal"
    APPROVED = "approved"
    BUILDING = "building"
    DEPLOYED = "deployed"
    FAILED = "failed"
    DENIED = "denied"


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
        return resolve_commit(self.git_dir(), ref, self.where)

    def fetch_commit(self, proposed: ProposedRepo, sha: str, approval_id: int) -> str:
        """Copy exactly the commit `sha` (7-40 hex digits, resolved in the proposed repo, never a ref) and
        its history into this repo as `proposal/<approval_id>`; return its full sha. Later amends or
        force-pushes in the proposed repo change nothing here. Raises BadCommitRef for anything but a sha
        naming one commit, TagConflict if the approval already fetched another commit."""
        if proposed.name != self.name:
            raise UnsafeRepo(f"refused to fetch the proposed repo of {proposed.name!r} into {self.where}")
        ref = tag_ref(TagKind.PROPOSAL, approval_id)
        full = proposed.resolve_commit(sha)
        source = proposed.git_dir()
        self.ensure()
        existing = self.ref_sha(ref)
        if existing is not None:
            if existing != full:
                raise TagConflict(f"approval {approval_id} already fetched {existing[:12]} into {self.where}")
            return full
        run_git(self.git_dir(), "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
                "--no-recurse-submodules", str(source), f"{full}:{ref}")
        if self.ref_sha(ref) != full:
            raise TagConflict(f"fetching {full[:12]} into {self.where} did not land at {ref}")
        return full

    def tag(self, kind: TagKind | str, approval_id: int, sha: str) -> str:
        """Tag commit `sha` (already in this repo) as `<kind>/<approval_id>` and return its full sha.
        Re-tagging the same commit is a no-op; another commit raises TagConflict. `deployed` tags are made
        only by mark_deployed, which moves `main` with them."""
        if TagKind(kind) is TagKind.DEPLOYED:
            raise ValueError("deployed tags move main: use mark_deployed")
        ref = tag_ref(kind, approval_id)
        full = self.resolve_commit(sha)
        existing = self.ref_sha(ref)
        if existing == full:
            return full
        if existing is not None:
            raise TagConflict(f"{ref.removeprefix('refs/tags/')} already tags {existing[:12]} in {self.where}")
        self._update_refs(f"create {ref} {full}\n")
        return full

    def mark_deployed(self, approval_id: int, sha: str) -> None:
        """Tag `deployed/<approval_id>` and move `main` to `sha`, in one transaction. `sha` must be the
        commit fetched for that approval (`proposal/<approval_id>`)."""
        ref = tag_ref(TagKind.DEPLOYED, approval_id)
        full = self.resolve_commit(sha)
        proposal = self.ref_sha(tag_ref(TagKind.PROPOSAL, approval_id))
        if proposal != full:
            raise TagConflict(f"{full[:12]} is not the commit fetched for approval {approval_id} in {self.where}")
        if self.ref_sha(ref) == full and self.deployed_sha() == full:
            return
        old_main = self.deployed_sha() or "0" * len(full)
        self._update_refs(f"create {ref} {full}\nupdate {MAIN} {full} {old_main}\n")

    def deployed_sha(self) -> str | None:
        """The commit `main` points to: the deployed config; None before the first deploy."""
        return self.ref_sha(MAIN) if self.exists() else None

    def deploy_history(self) -> list[tuple[int, str]]:
        """(approval id, sha) of every deploy, oldest first."""
        out = git_out(self.git_dir(), "for-each-ref", "--format=%(refname) %(objectname)",
                      "refs/tags/deployed/")
        history = []
        for line in out.splitlines():
            ref, sha = line.split(" ", 1)
            last = ref.rsplit("/", 1)[1]
            if last.isdigit():
                history.append((int(last), sha))
        return sorted(history)

    def previous_deployed_sha(self) -> str | None:
        """The latest deployed commit other than the current one: what a rollback returns to."""
        current = self.deployed_sha()
        earlier = [sha for _, sha in self.deploy_history() if sha != current]
        return earlier[-1] if earlier else None

    def ref_sha(self, ref: str) -> str | None:
        done = run_git(self.git_dir(), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def read_config_at(self, sha: str) -> AgentConfig:
        """agent.toml as it is in commit `sha`, read from the object store (no worktree), validated and
        checked to name this agent. Raises ConfigError when it is missing, not a plain file, or invalid."""
        full = self.resolve_commit(sha)
        source = f"{AGENT_TOML} at {full[:12]}"
        entry = git_out(self.git_dir(), "ls-tree", "--full-tree", full, "--", AGENT_TOML)
        if not entry:
            raise ConfigError(source, [ConfigIssue("", f"commit {full[:12]} has no {AGENT_TOML} at its root")])
        mode, kind, oid = entry.split("\t", 1)[0].split()
        if kind != "blob" or mode not in ("100644", "100755"):
            raise ConfigError(source, [ConfigIssue("", f"{AGENT_TOML} is not a regular file (mode {mode})")])
        if int(git_out(self.git_dir(), "cat-file", "-s", oid)) > MAX_AGENT_TOML_BYTES:
            raise ConfigError(source, [ConfigIssue("", f"larger than {MAX_AGENT_TOML_BYTES} bytes")])
        data = run_git(self.git_dir(), "cat-file", "blob", oid).stdout
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(source, [ConfigIssue("", "not valid UTF-8")]) from None
        return load_agent_config(text, source=source, expected_name=self.name)

    def diff(self, from_sha: str | None, to_sha: str) -> str:
        """Unified diff of the tree of `to_sha` against that of `from_sha` (None: the empty tree, as for a
        first deploy); NO_CHANGE when the trees are identical."""
        to_full = self.resolve_commit(to_sha)
        from_full = self.resolve_commit(from_sha) if from_sha is not None else self._empty_tree()
        done = run_git(self.git_dir(), "diff", "--no-ext-diff", "--no-textconv", "--no-color",
                       from_full, to_full, "--")
        text = done.stdout.decode("utf-8", "replace")
        return text if text.strip() else NO_CHANGE

    def diff_against_deployed(self, sha: str) -> str:
        """What deploying `sha` would change: its diff against `main`."""
        return self.diff(self.deployed_sha(), sha)

    def _empty_tree(self) -> str:
        return git_out(self.git_dir(), "hash-object", "-t", "tree", "--stdin")

    def _update_refs(self, commands: str) -> None:
        """Apply ref updates atomically (all or none); a lost race raises TagConflict."""
        done = run_git(self.git_dir(), "update-ref", "--stdin", stdin=commands.encode(), check=False)
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip()
            raise TagConflict(f"ref update refused in {self.where}: {reason}")
