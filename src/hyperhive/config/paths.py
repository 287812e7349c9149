"""Where an agent's config repos live, built so that no name can lead outside the state dir.

    <state>/configs/<name>/         proposed repo: a normal repo with a worktree, manager-writable
    <state>/applied/<name>/         applied repo: bare, written only by hive-c0re

DESIGN.md places the applied repo at `agents/<name>/applied/`; it lives apart from `agents/` instead, so
that a manager given `agents/` (or anything under it) can never reach the sealed copies."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..protocol.names import check_agent_name
from .errors import UnsafeRepo


def safe_join(root: Path, *parts: str) -> Path:
    """`root` joined with plain path components: no '/', '.', '..', NUL or empty part is accepted, and the
    result is checked to lie under `root`. Raises UnsafeRepo."""
    path = root
    for part in parts:
        if not part or part in (".", "..") or "/" in part or "\x00" in part:
            raise UnsafeRepo(f"refused path component {part!r} under {str(root)!r}")
        path = path / part
    if not os.path.normpath(path).startswith(os.path.normpath(root) + os.sep):
        raise UnsafeRepo(f"{str(path)!r} is not under {str(root)!r}")
    return path


def proposed_repo_path(state_dir: Path, name: str) -> Path:
    return safe_join(state_dir, "configs", check_agent_name(name))


def applied_repo_path(state_dir: Path, name: str) -> Path:
    return safe_join(state_dir, "applied", check_agent_name(name))


def refuse_symlinks(root: Path, path: Path) -> None:
    """Refuse when any existing component of `path` below `root` is a symlink: a manager who can write
    under `agents/` must not point the daemon at another agent's repo or at the host."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise UnsafeRepo(f"{str(current)!r} is a symlink; refused")
