"""Turn a user-given commit reference into a full sha, by the one rule of request_apply_commit: 7 to 40 hex
digits naming exactly one object, and that object a commit. Refs are never consulted, so a branch named
`deadbeef` cannot stand in for a commit."""

from __future__ import annotations

import re
from pathlib import Path

from ._git import git_out
from .errors import BadCommitRef

_SHA_PREFIX = re.compile(r"^[0-9a-fA-F]{7,40}$")


def check_sha_syntax(ref: object) -> str:
    """The lowercased sha prefix, or BadCommitRef saying what is accepted."""
    if not isinstance(ref, str):
        raise BadCommitRef(f"a commit sha must be a string, not {type(ref).__name__}")
    if not _SHA_PREFIX.fullmatch(ref):
        shown = ref if len(ref) <= 50 else ref[:50] + "…"
        raise BadCommitRef(
            f"{shown!r} is not a commit sha: give 7 to 40 hex digits (branch names, tags and HEAD are refused)"
        )
    return ref.lower()


def resolve_commit(git_dir: Path, ref: object, where: str) -> str:
    """The full sha of the one commit `ref` names in the repo at `git_dir`; `where` names the repo in
    errors (e.g. "the proposed repo of alice")."""
    prefix = check_sha_syntax(ref)
    matches = git_out(git_dir, "rev-parse", f"--disambiguate={prefix}").split()
    if not matches:
        raise BadCommitRef(f"there is no commit {prefix} in {where}")
    if len(matches) > 1:
        raise BadCommitRef(
            f"the sha prefix {prefix} is ambiguous in {where} ({len(matches)} objects match): give more digits"
        )
    kind = git_out(git_dir, "cat-file", "-t", matches[0])
    if kind != "commit":
        raise BadCommitRef(f"{prefix} names a {kind} in {where}, not a commit")
    return matches[0]
