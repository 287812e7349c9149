"""The proposed config repo of an agent: `<state>/configs/<name>/`, a normal repo with a worktree that
the manager edits and commits in. The daemon only seeds it and reads from it (plus the rollback helper's
one commit); it never checks files out there, and treats its `.git/config` as untrusted (see _git)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from ..faults import crash_point
from ..protocol.names import MANAGER_NAME, check_agent_name
from ._commits import resolve_commit
from ._git import Identity, git_out, run_git
from .agent_toml import AGENT_TOML, AgentConfig, dump_agent_config, load_agent_config
from .errors import RepoExists, RepoMissing, UnsafeRepo
from .paths import proposed_repo_path, refuse_symlinks
from .templates import manager_template, render_template

# The manager commits in every proposed repo; its sandbox has no global git config.
MANAGER_IDENTITY = Identity(MANAGER_NAME, f"{MANAGER_NAME}@hyperhive.invalid")
# Config that makes git fetch from a remote when it misses an object (a promisor remote, whose transport
# can be any command), or that git reads from elsewhere where this check cannot see it (includes,
# config.worktree via extensions). Keys as `git config --list` prints them: section and name lowercased.
# A seed is built in `configs/.seed-<name>-…` (no agent name starts with a dot) and renamed into place.
SEED_ASIDE_PREFIX = ".seed-"
_RISKY_CONFIG = re.compile(r"^(include\.|includeif\.|extensions\.|core\.partialclonefilter$|remote\..*\.promisor$)")


class ProposedRepo:
    """`<state>/configs/<name>/`; the name is validated before it reaches a path."""

    def __init__(self, state_dir: Path, name: str) -> None:
        self.name = check_agent_name(name)
        self.state_dir = Path(os.path.abspath(state_dir))
        self.path = proposed_repo_path(self.state_dir, name)
        self.where = f"the proposed config repo of {name!r}"

    def exists(self) -> bool:
        return os.path.lexists(self.path / ".git")

    def git_dir(self) -> Path:
        """The repo's .git dir, after checking it is safe to run git in: no symlink on the way from the
        state dir, `.git` a real directory (not a `gitdir:` file), no `commondir`, no alternates, and no
        symlink among its objects (any of which could point the daemon at another repo's content)."""
        git_dir = self.path / ".git"
        refuse_symlinks(self.state_dir, git_dir)
        try:
            mode = os.lstat(git_dir).st_mode
        except FileNotFoundError:
            raise RepoMissing(f"{self.where} does not exist") from None
        if not stat.S_ISDIR(mode):
            raise UnsafeRepo(f"{self.where}: .git is not a directory")
        for redirect in ("commondir", "objects/info/alternates"):
            if os.path.lexists(git_dir / redirect):
                raise UnsafeRepo(f"{self.where}: .git/{redirect} is not allowed")
        _refuse_symlinks_in(git_dir / "objects", self.where)
        _refuse_risky_config(git_dir / "config", self.where)
        return git_dir

    def objects_dir(self) -> Path:
        """The object store, checked as git_dir() checks it."""
        return self.git_dir() / "objects"

    def seed(self, description: str = "") -> str:
        """init_from_template with the shipped template (hm1nd's built-in config for the manager)."""
        text = manager_template() if self.name == MANAGER_NAME else render_template(self.name, description)
        return self.init_from_template(text)

    def init_from_template(self, template: str | AgentConfig) -> str:
        """Create the repo with one commit holding agent.toml (`template`: its text, e.g. from
        render_template, or a config to write out) and return that commit's sha. Refuses an existing repo
        (RepoExists) and a config for another agent (ConfigError). Atomic: the repo is built in a hidden
        sibling dir and renamed into place, so a crash leaves either no repo or a whole one."""
        text = dump_agent_config(template) if isinstance(template, AgentConfig) else template
        load_agent_config(text, expected_name=self.name)
        refuse_symlinks(self.state_dir, self.path)
        if self.exists() or (self.path.is_dir() and any(self.path.iterdir())):
            raise RepoExists(f"{self.where} already exists")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.remove_half_seeds()
        aside = Path(tempfile.mkdtemp(prefix=f"{SEED_ASIDE_PREFIX}{self.name}-", dir=self.path.parent))
        try:
            aside.chmod(0o755)  # as a plain mkdir would have made it
            _build_seed(aside, self.name, text)
            crash_point("seed.built")
            os.rename(aside, self.path)  # onto nothing or an empty dir: atomic
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        crash_point("seed.renamed")
        head = self.head()
        if head is None:
            raise RepoMissing(f"{self.where} has no commit right after seeding")
        return head

    def remove_half_seeds(self) -> None:
        """Remove what a crash mid-seed left aside (never the repo itself)."""
        for leftover in self.path.parent.glob(f"{SEED_ASIDE_PREFIX}{self.name}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def head(self) -> str | None:
        """The commit HEAD points to, or None before the first commit."""
        done = run_git(self.git_dir(), "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def resolve_commit(self, ref: object) -> str:
        """The full sha of the commit `ref` (7-40 hex digits) names here, or BadCommitRef."""
        return resolve_commit(self.git_dir(), ref, self.where)

    def head_ref(self) -> str:
        """The branch HEAD points to (`refs/heads/main`), or `HEAD` itself when detached."""
        done = run_git(self.git_dir(), "symbolic-ref", "--quiet", "HEAD", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else "HEAD"

    def tree_of(self, sha: str) -> str:
        return git_out(self.git_dir(), "rev-parse", "--verify", f"{sha}^{{tree}}")


def _build_seed(path: Path, name: str, text: str) -> None:
    run_git(None, "init", "--quiet", "--template=", "--initial-branch=main", str(path))
    git_dir = path / ".git"
    run_git(git_dir, "config", "user.name", MANAGER_IDENTITY.name)
    run_git(git_dir, "config", "user.email", MANAGER_IDENTITY.email)
    run_git(git_dir, "config", "commit.gpgSign", "false")
    _write_new_file(path / AGENT_TOML, text)
    run_git(git_dir, "add", "--", AGENT_TOML, work_tree=path)
    run_git(git_dir, "commit", "--quiet", "--no-verify", "-m", f"Seed the config of {name}", work_tree=path)


def _refuse_risky_config(config: Path, where: str) -> None:
    if not os.path.lexists(config):
        return
    # --file outside any repo, without includes: exactly the keys of that one file, whatever its syntax
    done = run_git(None, "config", "--file", str(config), "--no-includes", "--null", "--name-only", "--list",
                   check=False)
    if done.returncode != 0:
        raise UnsafeRepo(f"{where}: .git/config cannot be read: {done.stderr.decode('utf-8', 'replace').strip()}")
    for key in done.stdout.decode("utf-8", "replace").split("\0"):
        if _RISKY_CONFIG.match(key.lower()):
            raise UnsafeRepo(f"{where}: .git/config sets {key!r}, which hive-c0re refuses (remove it)")


def _refuse_symlinks_in(directory: Path, where: str) -> None:
    if os.path.islink(directory):
        raise UnsafeRepo(f"{where}: {str(directory)!r} is a symlink")
    for parent, dirs, files in os.walk(directory):
        for entry in (*dirs, *files):
            if os.path.islink(os.path.join(parent, entry)):
                raise UnsafeRepo(f"{where}: {os.path.join(parent, entry)!r} is a symlink")


def _write_new_file(path: Path, text: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
