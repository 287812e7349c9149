"""Rollback: a commit in the proposed repo whose tree is an earlier deployed one. It then goes through
request_apply_commit and the operator's approval like any other change."""

from __future__ import annotations

from ._git import git_out, run_git
from ._objects import copy_history
from .applied import AppliedRepo
from .errors import BadCommitRef, NothingToRollBack, TagConflict, UnsafeRepo
from .proposed import ProposedRepo


def revert_commit_in_proposed(
    applied: AppliedRepo,
    proposed: ProposedRepo,
    *,
    target_sha: str | None = None,
    message: str | None = None,
) -> str:
    """Commit, on top of the proposed repo's HEAD, the tree of `target_sha` (a deployed commit; default:
    the deploy before the current one) and return the new commit's sha.

    Only refs, objects and the index change: HEAD's branch moves (compare-and-swap, so a commit the
    manager makes meanwhile is never lost) and the index is set to the new tree. The worktree is left as
    it was, because checking files out could run filters the (manager-writable) repo config names; the
    manager runs `git checkout -- .` (or `git reset --hard`) to see the rolled-back files."""
    if proposed.name != applied.name:
        raise UnsafeRepo(f"refused to roll back {proposed.name!r} from the applied repo of {applied.name!r}")
    target = _target(applied, target_sha)
    git_dir = proposed.git_dir()
    # Bring the target's objects back (the manager may have rewritten and pruned them); never by a fetch,
    # which would run under the manager-writable config of the proposed repo (see _objects).
    copy_history(applied.git_dir(), git_dir, target, applied.where)
    tree = proposed.tree_of(target)
    head = proposed.head()
    current = applied.deployed_sha() or ""
    text = message or f"Roll back to {target[:12]} (reverting the deploy of {current[:12]})"
    parents = ["-p", head] if head else []
    new = git_out(git_dir, "commit-tree", tree, *parents, "-m", text)
    expected = head or ""
    done = run_git(git_dir, "update-ref", "-m", "rollback", proposed.head_ref(), new, expected, check=False)
    if done.returncode != 0:
        raise TagConflict(f"{proposed.where} moved while the rollback was made; try again")
    run_git(git_dir, "read-tree", new)
    return new


def _target(applied: AppliedRepo, target_sha: str | None) -> str:
    if target_sha is None:
        previous = applied.previous_deployed_sha()
        if previous is None:
            raise NothingToRollBack(f"{applied.where} has no earlier deploy to roll back to")
        return previous
    target = applied.resolve_commit(target_sha)
    if target not in {sha for _, sha in applied.deploy_history()}:
        raise BadCommitRef(f"{target[:12]} was never deployed from {applied.where}")
    return target
