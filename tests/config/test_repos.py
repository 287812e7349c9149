"""The proposed and applied repos with real git: seeding, commit references, the exact copy, reading, diffs."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from hyperhive.config import (
    NO_CHANGE,
    AppliedRepo,
    BadCommitRef,
    ConfigError,
    ProposedRepo,
    RepoExists,
    RepoMissing,
    TagConflict,
    TooLarge,
    UnsafeRepo,
    _objects,
    applied_repo_path,
    load_agent_config,
    proposed_repo_path,
)
from hyperhive.protocol.names import InvalidName

from .helpers import agent_toml, commit_file, git, with_model

WHERE = "the proposed config repo of 'alice'"


def test_paths(state: Path) -> None:
    assert proposed_repo_path(state, "alice") == state / "configs" / "alice"
    assert applied_repo_path(state, "alice") == state / "applied" / "alice"
    for bad in ("..", "../x", "a/b", "", "Alice", "all", "x-"):
        with pytest.raises(InvalidName):
            proposed_repo_path(state, bad)
        with pytest.raises(InvalidName):
            AppliedRepo(state, bad)


def test_seed_makes_one_commit_with_the_template(proposed: ProposedRepo) -> None:
    head = proposed.head()
    assert head is not None and len(head) == 40
    assert git(proposed, "rev-list", "--count", "HEAD") == "1"
    assert git(proposed, "log", "-1", "--format=%an <%ae>|%cn|%s") == (
        "hive-c0re <hive-c0re@hyperhive.invalid>|hive-c0re|Seed the config of alice")
    assert git(proposed, "symbolic-ref", "HEAD") == "refs/heads/main"
    cfg = load_agent_config(agent_toml(proposed), expected_name="alice")
    assert cfg.description == "test agent"
    # the manager commits as itself without any global config
    commit_file(proposed, agent_toml(proposed) + "\n", "touch")
    assert git(proposed, "log", "-1", "--format=%an") == "hm1nd"


def test_seed_refuses_an_existing_repo(proposed: ProposedRepo, state: Path) -> None:
    with pytest.raises(RepoExists, match=r"^the proposed config repo of 'alice' already exists$"):
        proposed.seed()
    stray = ProposedRepo(state, "bob")
    stray.path.mkdir(parents=True)
    (stray.path / "notes.txt").write_text("mine")
    with pytest.raises(RepoExists):
        stray.seed()


def test_seed_of_the_manager_uses_its_built_in_config(state: Path) -> None:
    repo = ProposedRepo(state, "hm1nd")
    repo.seed()
    assert load_agent_config(agent_toml(repo)).role == "manager"


def test_init_refuses_a_config_for_another_agent(state: Path) -> None:
    with pytest.raises(ConfigError, match=r"name: is 'bob', but this is the config of 'alice'"):
        ProposedRepo(state, "alice").init_from_template('name = "bob"\n')
    assert not ProposedRepo(state, "alice").exists()


def test_missing_repos(state: Path) -> None:
    with pytest.raises(RepoMissing, match=rf"^{WHERE} does not exist$"):
        ProposedRepo(state, "alice").resolve_commit("abcdef0")
    with pytest.raises(RepoMissing, match=r"^the applied config repo of 'alice' does not exist$"):
        AppliedRepo(state, "alice").read_config_at("abcdef0")
    assert AppliedRepo(state, "alice").deployed_sha() is None


def test_resolve_commit_takes_7_to_40_hex_digits(proposed: ProposedRepo) -> None:
    head = proposed.head()
    assert head is not None
    assert proposed.resolve_commit(head) == head
    assert proposed.resolve_commit(head[:7]) == head
    assert proposed.resolve_commit(head[:12].upper()) == head


@pytest.mark.parametrize("ref", ["main", "HEAD", "abcdef", "ggggggg", "a" * 41, "HEAD~1", "-abcdefg"])
def test_resolve_commit_refuses_anything_but_a_sha(proposed: ProposedRepo, ref: str) -> None:
    with pytest.raises(BadCommitRef) as caught:
        proposed.resolve_commit(ref)
    assert str(caught.value) == (
        f"{ref!r} is not a commit sha: give 7 to 40 hex digits (branch names, tags and HEAD are refused)")


def test_a_branch_named_like_a_sha_is_not_a_commit(proposed: ProposedRepo) -> None:
    git(proposed, "branch", "deadbeef")
    with pytest.raises(BadCommitRef, match=rf"^there is no commit deadbeef in {WHERE}$"):
        proposed.resolve_commit("deadbeef")


def test_resolve_commit_refuses_unknown_trees_and_ambiguous(proposed: ProposedRepo) -> None:
    with pytest.raises(BadCommitRef, match=rf"^there is no commit {'0' * 40} in {WHERE}$"):
        proposed.resolve_commit("0" * 40)
    head = proposed.head()
    assert head is not None
    tree = proposed.tree_of(head)
    with pytest.raises(BadCommitRef, match=rf"^{tree[:7]} names a tree in {WHERE}, not a commit$"):
        proposed.resolve_commit(tree[:7])
    first, second = _two_blobs_sharing_a_prefix()
    for content in (first, second):
        subprocess.run(["git", "hash-object", "-w", "--stdin"], input=content, cwd=proposed.path, check=True,
                       capture_output=True)
    prefix = _blob_id(first)[:7]
    with pytest.raises(BadCommitRef, match=rf"^the sha prefix {prefix} is ambiguous in {WHERE} \(2 objects match\): "
                                           "give more digits$"):
        proposed.resolve_commit(prefix)


def _blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _two_blobs_sharing_a_prefix() -> tuple[bytes, bytes]:
    """Two blobs whose ids share their first 7 hex digits (a birthday search over ~2^14 candidates)."""
    seen: dict[str, bytes] = {}
    n = 0
    while True:
        content = b"%d\n" % n
        prefix = _blob_id(content)[:7]
        if prefix in seen:
            return seen[prefix], content
        seen[prefix] = content
        n += 1


def test_fetch_copies_exactly_that_commit(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    first = proposed.head()
    assert first is not None
    second = commit_file(proposed, with_model(agent_toml(proposed), "claude-opus-4-1"), "opus")
    assert applied.fetch_commit(proposed, first[:9], 1) == first
    assert applied.proposal_sha(1) == first
    assert applied.read_proposal(1).model == "claude-sonnet-4-5"  # not the later commit
    assert applied.fetch_commit(proposed, second, 2) == second
    assert applied.read_config_at(second[:7]).model == "claude-opus-4-1"
    assert applied.deployed_sha() is None  # fetching deploys nothing
    # the applied repo is bare and holds no branch but (later) main
    assert subprocess.run(["git", "--git-dir", str(applied.path), "for-each-ref", "--format=%(refname)"],
                          capture_output=True, text=True, check=True).stdout.split() == [
        "refs/tags/proposal/1", "refs/tags/proposal/2"]


def test_force_push_after_a_proposal_changes_nothing(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    seed = proposed.head()
    proposal = commit_file(proposed, with_model(agent_toml(proposed), "claude-opus-4-1"), "opus")
    assert applied.fetch_commit(proposed, proposal, 7) == proposal
    diff_before = applied.diff_proposal(7)
    # the manager rewrites history: amend away the proposed commit and prune it from its repo
    git(proposed, "reset", "--hard", str(seed))
    other = commit_file(proposed, with_model(agent_toml(proposed), "claude-haiku-4-5"), "haiku instead")
    git(proposed, "reflog", "expire", "--expire=now", "--all")
    git(proposed, "gc", "--prune=now", "--quiet")
    assert subprocess.run(["git", "cat-file", "-e", proposal], cwd=proposed.path).returncode != 0
    assert applied.proposal_sha(7) == proposal
    assert applied.read_proposal(7).model == "claude-opus-4-1"
    assert applied.diff_proposal(7) == diff_before
    # the same approval id cannot be pointed at the new commit
    with pytest.raises(TagConflict, match=rf"^approval 7 already fetched {proposal[:12]} into the applied config "
                                          r"repo of 'alice'$"):
        applied.fetch_commit(proposed, other, 7)
    assert applied.fetch_commit(proposed, other, 8) == other


def test_fetching_the_same_commit_again_is_a_no_op(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    head = proposed.head()
    assert head is not None
    assert applied.fetch_commit(proposed, head, 1) == applied.fetch_commit(proposed, head[:7], 1) == head


def test_fetch_refuses_another_agents_repo(proposed: ProposedRepo, state: Path) -> None:
    with pytest.raises(UnsafeRepo, match="refused to fetch the proposed repo of 'alice' into the applied config repo "
                                         "of 'bob'"):
        AppliedRepo(state, "bob").fetch_commit(proposed, "abcdef0", 1)


def test_read_config_names_the_bad_key(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    bad = commit_file(proposed, 'name = "alice"\nnetwork = "lan"\n', "bad")
    applied.fetch_commit(proposed, bad, 1)
    with pytest.raises(ConfigError) as caught:
        applied.read_proposal(1)
    assert str(caught.value) == f"invalid agent.toml at {bad[:12]}: network: must be 'private' or 'host', not 'lan'"
    other = commit_file(proposed, 'name = "bob"\n', "not mine")
    applied.fetch_commit(proposed, other, 2)
    with pytest.raises(ConfigError, match=r"name: is 'bob', but this is the config of 'alice'$"):
        applied.read_proposal(2)


def test_read_config_needs_a_regular_agent_toml(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    git(proposed, "rm", "--quiet", "agent.toml")
    git(proposed, "commit", "--quiet", "-m", "gone")
    gone = git(proposed, "rev-parse", "HEAD")
    applied.fetch_commit(proposed, gone, 1)
    with pytest.raises(ConfigError, match=rf"^invalid agent.toml at {gone[:12]}: commit {gone[:12]} has no agent.toml "
                                          "at its root$"):
        applied.read_proposal(1)
    os.symlink("/etc/passwd", proposed.path / "agent.toml")
    git(proposed, "add", "agent.toml")
    git(proposed, "commit", "--quiet", "-m", "link")
    link = git(proposed, "rev-parse", "HEAD")
    applied.fetch_commit(proposed, link, 2)
    with pytest.raises(ConfigError, match=r"agent.toml is not a regular file \(mode 120000\)$"):
        applied.read_proposal(2)


def test_diff_against_deployed_and_no_change(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    seed = proposed.head()
    assert seed is not None
    applied.fetch_commit(proposed, seed, 1)
    first = applied.diff_proposal(1)  # nothing deployed yet: against the empty tree
    assert first.startswith("diff --git a/agent.toml b/agent.toml\nnew file mode 100644\n")
    assert '+name = "alice"\n' in first
    applied.mark("approved", 1)
    applied.mark_deployed(1)
    assert applied.diff_proposal(1) == NO_CHANGE == "(no change: the tree is identical to the deployed one)"
    # a new commit with the same tree is no change either
    git(proposed, "commit", "--quiet", "--allow-empty", "-m", "nothing")
    empty = git(proposed, "rev-parse", "HEAD")
    applied.fetch_commit(proposed, empty, 2)
    assert applied.diff_proposal(2) == NO_CHANGE
    changed = commit_file(proposed, with_model(agent_toml(proposed), "claude-opus-4-1"), "opus")
    applied.fetch_commit(proposed, changed, 3)
    diff = applied.diff_proposal(3)
    assert '-model = "claude-sonnet-4-5"\n+model = "claude-opus-4-1"\n' in diff
    assert applied.diff_against_deployed(changed[:7]) == diff
    assert applied.diff(changed, seed).count('+model = "claude-sonnet-4-5"') == 1


def test_a_huge_history_is_refused(proposed: ProposedRepo, applied: AppliedRepo,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_objects, "MAX_COPY_BYTES", 2**20)
    (proposed.path / "blob.bin").write_bytes(os.urandom(2 * 2**20))  # random: packs no smaller
    git(proposed, "add", "blob.bin")
    git(proposed, "commit", "--quiet", "-m", "huge")
    huge = git(proposed, "rev-parse", "HEAD")
    with pytest.raises(TooLarge, match=rf"^commit {huge[:12]} with its history is over 1 MiB in {WHERE}$"):
        applied.fetch_commit(proposed, huge, 1)
    assert applied.ref_sha("refs/tags/proposal/1") is None
