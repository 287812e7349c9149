"""Tags per approval, `main` moving only with a deploy, and rollback as a commit in the proposed repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hyperhive.config import (
    AppliedRepo,
    BadCommitRef,
    BadTransition,
    NothingToRollBack,
    ProposedRepo,
    TagConflict,
    TagKind,
    UnknownApproval,
    UnsafeRepo,
    revert_commit_in_proposed,
)

from .helpers import agent_toml, commit_file, git, with_model

REPO = "(the applied config repo of 'alice')"


def propose(proposed: ProposedRepo, applied: AppliedRepo, approval_id: int, model: str | None = None) -> str:
    """Commit a model change (or take HEAD) and fetch it as approval `approval_id`."""
    head = commit_file(proposed, with_model(agent_toml(proposed), model), model) if model else proposed.head()
    assert head is not None
    return applied.fetch_commit(proposed, head, approval_id)


def deploy(proposed: ProposedRepo, applied: AppliedRepo, approval_id: int, model: str | None = None) -> str:
    sha = propose(proposed, applied, approval_id, model)
    for kind in (TagKind.APPROVED, TagKind.BUILDING):
        applied.mark(kind, approval_id)
    applied.mark_deployed(approval_id)
    return sha


def tags(applied: AppliedRepo) -> dict[str, str]:
    out = subprocess.run(["git", "--git-dir", str(applied.path), "for-each-ref", "--format=%(refname) %(objectname)"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ") for line in out.splitlines())


def test_a_deploy_tags_every_step_and_moves_main(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    sha = propose(proposed, applied, 1)
    assert applied.marks(1) == {TagKind.PROPOSAL}
    assert applied.mark(TagKind.APPROVED, 1) == sha
    assert applied.mark("building", 1) == sha
    assert applied.deployed_sha() is None  # not before the deploy succeeded
    assert applied.mark_deployed(1) == sha
    assert applied.marks(1) == {TagKind.PROPOSAL, TagKind.APPROVED, TagKind.BUILDING, TagKind.DEPLOYED}
    steps = ("proposal", "approved", "building", "deployed")
    assert tags(applied) == {f"refs/tags/{kind}/1": sha for kind in steps} | {"refs/heads/main": sha}
    assert applied.deploy_history() == [(1, sha)]
    config = applied.deployed_config()
    assert config is not None and config.description == "test agent"


def test_marking_again_is_a_no_op(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    """hive-c0re may resume a deploy after a restart and mark the same step twice."""
    sha = deploy(proposed, applied, 1)
    assert applied.mark(TagKind.APPROVED, 1) == applied.mark_deployed(1) == sha
    assert applied.deploy_history() == [(1, sha)]


@pytest.mark.parametrize(("done", "kind", "message"), [
    ((), TagKind.DEPLOYED, "approval 1 cannot be deployed before it is approved"),
    ((), TagKind.BUILDING, "approval 1 cannot be building before it is approved"),
    ((TagKind.DENIED,), TagKind.APPROVED, "approval 1 is already denied and cannot be approved"),
    ((TagKind.APPROVED,), TagKind.DENIED, "approval 1 is already approved and cannot be denied"),
    ((TagKind.FAILED,), TagKind.APPROVED, "approval 1 is already failed and cannot be approved"),
    ((TagKind.APPROVED, TagKind.FAILED), TagKind.BUILDING, "approval 1 is already failed and cannot be building"),
    ((TagKind.APPROVED, TagKind.FAILED), TagKind.DEPLOYED, "approval 1 is already failed and cannot be deployed"),
    ((TagKind.APPROVED, TagKind.DEPLOYED), TagKind.FAILED, "approval 1 is already deployed and cannot be failed"),
    ((TagKind.APPROVED, TagKind.DEPLOYED), TagKind.BUILDING, "approval 1 is already deployed and cannot be building"),
    ((TagKind.DENIED,), TagKind.FAILED, "approval 1 is already denied and cannot be failed"),
])
def test_steps_out_of_order_are_refused(proposed: ProposedRepo, applied: AppliedRepo, done: tuple[TagKind, ...],
                                        kind: TagKind, message: str) -> None:
    propose(proposed, applied, 1)
    for step in done:
        applied.mark(step, 1)
    before = tags(applied)
    with pytest.raises(BadTransition) as caught:
        applied.mark(kind, 1)
    assert str(caught.value) == f"{message} {REPO}"
    assert tags(applied) == before


def test_validation_failure_and_denial_need_no_approval(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    propose(proposed, applied, 1)
    propose(proposed, applied, 2, "claude-opus-4-1")
    applied.mark(TagKind.FAILED, 1)
    applied.mark(TagKind.DENIED, 2)
    assert applied.marks(1) == {TagKind.PROPOSAL, TagKind.FAILED}
    assert applied.marks(2) == {TagKind.PROPOSAL, TagKind.DENIED}
    assert applied.deployed_sha() is None


def test_unknown_approvals_and_proposal_tags(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    with pytest.raises(UnknownApproval, match=r"^approval 9 fetched no commit into the applied config repo of "
                                              r"'alice'$"):
        applied.mark(TagKind.APPROVED, 9)
    propose(proposed, applied, 1)
    with pytest.raises(UnknownApproval):
        applied.mark(TagKind.APPROVED, 9)
    with pytest.raises(BadTransition, match=r"^proposal tags are made by fetch_commit$"):
        applied.mark(TagKind.PROPOSAL, 1)
    with pytest.raises(ValueError, match=r"approval id must be a non-negative integer, not -1"):
        applied.mark(TagKind.APPROVED, -1)
    assert applied.marks(9) == frozenset()


def test_a_failed_build_leaves_main_where_it_was(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    good = deploy(proposed, applied, 1)
    propose(proposed, applied, 2, "claude-opus-4-1")
    applied.mark(TagKind.APPROVED, 2)
    applied.mark(TagKind.BUILDING, 2)
    applied.mark(TagKind.FAILED, 2)
    assert applied.deployed_sha() == good
    config = applied.deployed_config()
    assert config is not None and config.model == "claude-sonnet-4-5"
    assert applied.deploy_history() == [(1, good)]


def test_main_moves_with_compare_and_swap(proposed: ProposedRepo, applied: AppliedRepo,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two deploys racing: the one that read a stale `main` fails whole, leaving no deployed tag behind."""
    first = deploy(proposed, applied, 1)
    propose(proposed, applied, 2, "claude-opus-4-1")
    applied.mark(TagKind.APPROVED, 2)
    third = propose(proposed, applied, 3, "claude-haiku-4-5")
    applied.mark(TagKind.APPROVED, 3)
    applied.mark_deployed(3)
    monkeypatch.setattr(applied, "deployed_sha", lambda: first)  # what the loser read before 3 landed
    with pytest.raises(TagConflict, match=r"^ref update refused in the applied config repo of 'alice': "):
        applied.mark_deployed(2)
    monkeypatch.undo()
    assert applied.deployed_sha() == third
    assert TagKind.DEPLOYED not in applied.marks(2)


def test_rollback_commits_the_previous_deploy_in_the_proposed_repo(proposed: ProposedRepo,
                                                                  applied: AppliedRepo) -> None:
    first = deploy(proposed, applied, 1)
    second = deploy(proposed, applied, 2, "claude-opus-4-1")
    assert applied.previous_deployed_sha() == first
    revert = revert_commit_in_proposed(applied, proposed)
    # on top of the manager's branch, with the old tree, by hive-c0re; nothing is rewritten
    assert git(proposed, "rev-parse", "refs/heads/main") == revert
    assert git(proposed, "rev-parse", f"{revert}^") == second
    assert git(proposed, "rev-parse", f"{revert}^{{tree}}") == git(proposed, "rev-parse", f"{first}^{{tree}}")
    assert git(proposed, "log", "-1", "--format=%an|%s", revert) == (
        f"hive-c0re|Roll back to {first[:12]} (reverting the deploy of {second[:12]})")
    assert git(proposed, "diff", "--cached", "--name-only", revert) == ""  # the index follows the branch
    # then it is a change like any other: proposal, approval, deploy
    assert applied.fetch_commit(proposed, revert, 3) == revert
    assert '-model = "claude-opus-4-1"\n+model = "claude-sonnet-4-5"\n' in applied.diff_proposal(3)
    applied.mark(TagKind.APPROVED, 3)
    applied.mark_deployed(3)
    assert applied.deployed_sha() == revert
    config = applied.deployed_config()
    assert config is not None and config.model == "claude-sonnet-4-5"
    assert applied.previous_deployed_sha() == second


def test_rollback_works_after_the_manager_pruned_history(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    first = deploy(proposed, applied, 1)
    deploy(proposed, applied, 2, "claude-opus-4-1")
    git(proposed, "checkout", "--quiet", "--orphan", "fresh")
    commit_file(proposed, with_model(agent_toml(proposed), "claude-haiku-4-5"), "start over")
    git(proposed, "branch", "-D", "main")
    git(proposed, "reflog", "expire", "--expire=now", "--all")
    git(proposed, "gc", "--prune=now", "--quiet")
    assert subprocess.run(["git", "cat-file", "-e", first], cwd=proposed.path).returncode != 0
    revert = revert_commit_in_proposed(applied, proposed, message="back to the first")
    assert git(proposed, "rev-parse", "refs/heads/fresh") == revert
    assert git(proposed, "rev-parse", f"{revert}^{{tree}}") == git(proposed, "rev-parse", f"{first}^{{tree}}")
    assert git(proposed, "log", "-1", "--format=%s", revert) == "back to the first"


def test_rollback_to_a_named_deploy(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    first = deploy(proposed, applied, 1)
    deploy(proposed, applied, 2, "claude-opus-4-1")
    deploy(proposed, applied, 3, "claude-haiku-4-5")
    revert = revert_commit_in_proposed(applied, proposed, target_sha=first[:8])
    assert git(proposed, "rev-parse", f"{revert}^{{tree}}") == git(proposed, "rev-parse", f"{first}^{{tree}}")


def test_rollback_needs_an_earlier_deploy(proposed: ProposedRepo, applied: AppliedRepo) -> None:
    deploy(proposed, applied, 1)
    with pytest.raises(NothingToRollBack, match=r"^the applied config repo of 'alice' has no earlier deploy to roll "
                                                r"back to$"):
        revert_commit_in_proposed(applied, proposed)
    never = propose(proposed, applied, 2, "claude-opus-4-1")
    with pytest.raises(BadCommitRef, match=rf"^{never[:12]} was never deployed from the applied config repo of "
                                           r"'alice'$"):
        revert_commit_in_proposed(applied, proposed, target_sha=never)


def test_rollback_refuses_another_agents_repo(proposed: ProposedRepo, state: Path) -> None:
    with pytest.raises(UnsafeRepo, match=r"^refused to roll back 'alice' from the applied repo of 'bob'$"):
        revert_commit_in_proposed(AppliedRepo(state, "bob"), proposed)


def test_rollback_returns_to_what_was_deployed_before_not_to_a_lower_id(proposed: ProposedRepo,
                                                                        applied: AppliedRepo) -> None:
    """Approvals 2 and 3 are both pending; the operator approves 3 first. Undoing 2 returns to 3."""
    deploy(proposed, applied, 1)
    second = propose(proposed, applied, 2, "claude-opus-4-1")
    third = propose(proposed, applied, 3, "claude-haiku-4-5")
    for approval_id in (3, 2):
        applied.mark(TagKind.APPROVED, approval_id)
        applied.mark_deployed(approval_id)
    assert applied.deployed_sha() == second
    assert applied.previous_deployed_sha() == third
    revert = revert_commit_in_proposed(applied, proposed)
    assert git(proposed, "rev-parse", f"{revert}^{{tree}}") == git(proposed, "rev-parse", f"{third}^{{tree}}")
