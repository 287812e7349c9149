"""What the manager does to a proposed config repo, done by a test: write agent.toml, commit, get the sha.

The repos are hm1nd's (under bwrap they are owned by its uid, runtime/identity.py), so the test's git, run
as root, names the repo safe instead of refusing it as another user's."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", f"safe.directory={repo}", "-c", "user.name=hm1nd",
                           "-c", "user.email=hm1nd@hive", *args], check=True, capture_output=True, text=True
                          ).stdout.strip()


def commit_agent_toml(state_dir: Path, name: str, text: str, message: str = "change") -> str:
    """Write `name`'s proposed agent.toml, commit it, and return the commit's sha."""
    repo = state_dir / "configs" / name
    (repo / "agent.toml").write_text(text)
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")
