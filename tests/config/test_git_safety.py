"""The proposed repo is the manager's: nothing in it, and nothing in the caller's git setup, may make
hive-c0re run a command, read another repo, or change what was proposed. Each attack is first shown to work
on plain git, so the test fails if the trap is not armed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from hyperhive.config import AppliedRepo, ProposedRepo, TagKind, UnsafeRepo, revert_commit_in_proposed

from .helpers import MANAGER_ENV, agent_toml, commit_file, git, with_model

WHERE = "the proposed config repo of 'alice'"


def deploy_twice(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    """Two deploys, so a rollback has somewhere to go."""
    for approval_id, model in ((1, None), (2, "claude-opus-4-1")):
        head = commit_file(proposed, with_model(agent_toml(proposed), model), model) if model else proposed.head()
        assert head is not None
        applied.fetch_commit(proposed, head, approval_id)
        applied.mark(TagKind.APPROVED, approval_id)
        applied.mark_deployed(approval_id)


def executable(path: Path, script: str) -> None:
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_a_fetch_redirected_to_a_command_never_runs(proposed: ProposedRepo, applied: AppliedRepo,
                                                    short_tmp: Path) -> None:
    """`url.<cmd>.insteadOf=<applied repo>` with `protocol.ext.allow`: a `git fetch <applied repo>` run in the
    proposed repo (as the first rollback did) runs the manager's command as hive-c0re."""
    deploy_twice(proposed, applied)
    marker = short_tmp / "pwned"
    git(proposed, "config", "protocol.ext.allow", "always")
    git(proposed, "config", f"url.ext::sh -c touch% {marker}.insteadOf", str(applied.path))
    armed = subprocess.run(["git", "fetch", str(applied.path), "main"], cwd=proposed.path, env=MANAGER_ENV,
                           capture_output=True)
    assert armed.returncode != 0 and marker.exists()
    marker.unlink()
    revert = revert_commit_in_proposed(applied, proposed)
    applied.fetch_commit(proposed, revert, 3)
    assert not marker.exists()


def test_the_repos_hooks_never_run(proposed: ProposedRepo, applied: AppliedRepo, short_tmp: Path) -> None:
    deploy_twice(proposed, applied)
    marker = short_tmp / "hooked"
    (proposed.path / ".git" / "hooks").mkdir()  # seeded with --template=, so there is none yet
    for hook in ("reference-transaction", "post-commit", "post-checkout", "pre-auto-gc"):
        executable(proposed.path / ".git" / "hooks" / hook, f"#!/bin/sh\ntouch {marker}\n")
    commit_file(proposed, agent_toml(proposed) + "\n", "armed")
    assert marker.exists()
    marker.unlink()
    revert_commit_in_proposed(applied, proposed)
    head = proposed.head()
    assert head is not None
    applied.fetch_commit(proposed, head, 3)
    assert not marker.exists()


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("remote.x.promisor", "true", "remote.x.promisor"),
    ("extensions.partialClone", "x", "extensions.partialclone"),
    ("extensions.worktreeConfig", "true", "extensions.worktreeconfig"),
    ("core.partialCloneFilter", "blob:none", "core.partialclonefilter"),
    ("include.path", "/tmp/elsewhere", "include.path"),
    ("includeIf.gitdir:/.path", "/tmp/elsewhere", "includeif.gitdir:/.path"),
])
def test_config_that_git_would_act_on_unseen_is_refused(proposed: ProposedRepo, applied: AppliedRepo,
                                                        key: str, value: str, shown: str) -> None:
    git(proposed, "config", key, value)
    head = git(proposed, "rev-parse", "HEAD")
    with pytest.raises(UnsafeRepo) as caught:
        applied.fetch_commit(proposed, head, 1)
    assert str(caught.value) == f"{WHERE}: .git/config sets {shown!r}, which hive-c0re refuses (remove it)"


def test_a_promisor_remote_never_runs(proposed: ProposedRepo, applied: AppliedRepo, short_tmp: Path) -> None:
    """A promisor remote's transport runs whenever git misses an object; with `ext::` that is any command."""
    marker = short_tmp / "lazy"
    git(proposed, "config", "protocol.ext.allow", "always")
    git(proposed, "config", "remote.x.url", f"ext::sh -c touch% {marker}")
    git(proposed, "config", "remote.x.promisor", "true")
    missing = "0123456789abcdef0123456789abcdef01234567"
    armed = subprocess.run(["git", "cat-file", "-t", missing], cwd=proposed.path, env=MANAGER_ENV,
                           capture_output=True)
    assert armed.returncode != 0 and marker.exists()
    marker.unlink()
    with pytest.raises(UnsafeRepo):
        proposed.resolve_commit(missing)
    assert not marker.exists()


def test_replace_refs_cannot_change_what_a_sha_means(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    seed = proposed.head()
    assert seed is not None
    other = commit_file(proposed, 'name = "alice"\nnetwork = "host"\n', "other")
    git(proposed, "replace", seed, other)
    assert "network" in git(proposed, "show", f"{seed}:agent.toml")  # plain git now lies about `seed`
    applied.fetch_commit(proposed, seed, 1)
    cfg = applied.read_proposal(1)
    assert (cfg.network, cfg.description) == (None, "test agent")


def test_the_callers_git_setup_is_ignored(state: Path, short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A global config, a HOME .gitconfig and stray GIT_* variables of whoever runs hive-c0re change nothing."""
    marker = short_tmp / "global-hook"
    hooks = short_tmp / "hooks"
    hooks.mkdir()
    executable(hooks / "post-commit", f"#!/bin/sh\ntouch {marker}\n")
    setup = f"[user]\n\tname = evil\n\temail = evil@example.com\n[core]\n\thooksPath = {hooks}\n" \
            "[init]\n\tdefaultBranch = master\n[commit]\n\tgpgSign = true\n"
    (short_tmp / "global").write_text(setup)
    home = short_tmp / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(setup)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(short_tmp / "global"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(short_tmp / "nowhere"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "evil")
    monkeypatch.setenv("GIT_INDEX_FILE", str(short_tmp / "index"))
    proposed = ProposedRepo(state, "alice")
    proposed.seed()
    applied = AppliedRepo(state, "alice")
    head = proposed.head()
    assert head is not None
    applied.fetch_commit(proposed, head, 1)
    monkeypatch.undo()
    assert git(proposed, "log", "-1", "--format=%an|%cn|%G?") == "hive-c0re|hive-c0re|N"
    assert git(proposed, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert not marker.exists() and not (short_tmp / "nowhere").exists() and not (short_tmp / "index").exists()


def test_a_symlinked_repo_is_refused(state: Path, short_tmp: Path) -> None:
    """The manager must not point hive-c0re at another agent's repo (or anything else) by a symlink."""
    bob = ProposedRepo(state, "bob")
    bob.seed()
    (state / "configs").mkdir(exist_ok=True)
    (state / "configs" / "alice").symlink_to(state / "configs" / "bob")
    with pytest.raises(UnsafeRepo) as caught:
        ProposedRepo(state, "alice").resolve_commit("abcdef0")
    assert str(caught.value) == f"{str(state / 'configs' / 'alice')!r} is a symlink; refused"


def test_a_gitdir_file_is_refused(proposed: ProposedRepo, state: Path) -> None:
    bob = ProposedRepo(state, "bob")
    bob.seed()
    shutil.rmtree(proposed.path / ".git")
    (proposed.path / ".git").write_text(f"gitdir: {bob.path / '.git'}\n")
    with pytest.raises(UnsafeRepo, match=rf"^{WHERE}: .git is not a directory$"):
        proposed.resolve_commit("abcdef0")


def test_alternates_and_symlinked_objects_are_refused(proposed: ProposedRepo, state: Path) -> None:
    bob = ProposedRepo(state, "bob")
    bob.seed()
    alternates = proposed.path / ".git" / "objects" / "info" / "alternates"
    alternates.parent.mkdir(exist_ok=True)
    alternates.write_text(f"{bob.path / '.git' / 'objects'}\n")
    with pytest.raises(UnsafeRepo, match=rf"^{WHERE}: .git/objects/info/alternates is not allowed$"):
        proposed.resolve_commit("abcdef0")
    alternates.unlink()
    os.symlink(bob.path / ".git" / "objects" / "pack", proposed.path / ".git" / "objects" / "evil")
    with pytest.raises(UnsafeRepo, match=r"/objects/evil' is a symlink$"):
        proposed.resolve_commit("abcdef0")


def test_the_applied_repo_is_not_reachable_from_agents(state: Path, proposed: ProposedRepo,
                                                       applied: AppliedRepo) -> None:
    head = proposed.head()
    assert head is not None
    applied.fetch_commit(proposed, head, 1)
    assert applied.path.is_relative_to(state / "applied")
    assert not applied.path.is_relative_to(state / "agents")
    assert (applied.path / "HEAD").is_file() and not (applied.path / ".git").exists()  # bare
