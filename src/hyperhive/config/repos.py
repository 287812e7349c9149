"""The two config repos of an agent, in one import: the proposed repo the manager edits
(`<state>/configs/<name>/`) and the applied repo only hive-c0re writes (`<state>/applied/<name>/`).
The mechanics live in proposed.py, applied.py and rollback.py; the git CLI runs through _git.py."""

from __future__ import annotations

from .applied import MAIN, NO_CHANGE, AppliedRepo, TagKind, tag_ref
from .host_policy import HOST_TOML
from .paths import applied_repo_path, proposed_repo_path, safe_join
from .proposed import MANAGER_IDENTITY, ProposedRepo
from .rollback import revert_commit_in_proposed

__all__ = [
    "HOST_TOML",
    "MAIN",
    "MANAGER_IDENTITY",
    "NO_CHANGE",
    "AppliedRepo",
    "ProposedRepo",
    "TagKind",
    "applied_repo_path",
    "proposed_repo_path",
    "revert_commit_in_proposed",
    "safe_join",
    "tag_ref",
]
