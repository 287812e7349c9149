"""Acting as the manager in a proposed repo: plain git in its worktree, with a clean environment of its own."""

from __future__ import annotations

import os
import subprocess

from hyperhive.config import ProposedRepo

MANAGER_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "hm1nd",
    "GIT_AUTHOR_EMAIL": "hm1nd@hyperhive.invalid",
    "GIT_COMMITTER_NAME": "hm1nd",
    "GIT_COMMITTER_EMAIL": "hm1nd@hyperhive.invalid",
}


def git(repo: ProposedRepo, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo.path, env=MANAGER_ENV, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def commit_file(repo: ProposedRepo, text: str, message: str = "edit", path: str = "agent.toml") -> str:
    """Write `path` in the worktree, commit it, return the new commit's sha."""
    (repo.path / path).write_text(text, encoding="utf-8")
    git(repo, "add", "--", path)
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def agent_toml(repo: ProposedRepo) -> str:
    return (repo.path / "agent.toml").read_text(encoding="utf-8")


def with_model(text: str, model: str) -> str:
    """The template's text with another `model` line."""
    lines = [f'model = "{model}"' if line.startswith("model = ") else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"
