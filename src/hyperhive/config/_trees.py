"""Reading commits of the applied repo straight from its object store: agent.toml at a commit, and the diff
between two commits. Nothing is checked out, so no filter, attribute or worktree file is ever involved."""

from __future__ import annotations

from pathlib import Path

from ._git import git_out, run_git
from .agent_toml import AGENT_TOML, AgentConfig, load_agent_config
from .errors import ConfigError, ConfigIssue

NO_CHANGE = "(no change: the tree is identical to the deployed one)"
MAX_AGENT_TOML_BYTES = 256 * 1024
# The diff goes to the dashboard and into an approval row; a config repo's honest diff is a few KiB.
MAX_DIFF_CHARS = 256 * 1024


def read_agent_toml(git_dir: Path, commit: str, name: str) -> AgentConfig:
    """agent.toml at the root of `commit` (a full sha), validated and checked to name agent `name`. Raises
    ConfigError when it is missing, not a regular file, too large, not UTF-8 or invalid."""
    source = f"{AGENT_TOML} at {commit[:12]}"
    entry = git_out(git_dir, "ls-tree", "--full-tree", commit, "--", AGENT_TOML)
    if not entry:
        raise ConfigError(source, [ConfigIssue("", f"commit {commit[:12]} has no {AGENT_TOML} at its root")])
    mode, kind, oid = entry.split("\t", 1)[0].split()
    if kind != "blob" or mode not in ("100644", "100755"):
        raise ConfigError(source, [ConfigIssue("", f"{AGENT_TOML} is not a regular file (mode {mode})")])
    if int(git_out(git_dir, "cat-file", "-s", oid)) > MAX_AGENT_TOML_BYTES:
        raise ConfigError(source, [ConfigIssue("", f"larger than {MAX_AGENT_TOML_BYTES} bytes")])
    data = run_git(git_dir, "cat-file", "blob", oid).stdout
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(source, [ConfigIssue("", "not valid UTF-8")]) from None
    return load_agent_config(text, source=source, expected_name=name)


def diff_commits(git_dir: Path, old: str | None, new: str) -> str:
    """Unified diff from the tree of `old` (None: the empty tree, as before a first deploy) to that of
    `new`; NO_CHANGE when the trees are identical, and cut at MAX_DIFF_CHARS with a note saying so."""
    base = old if old is not None else git_out(git_dir, "hash-object", "-t", "tree", "--stdin")
    done = run_git(git_dir, "diff", "--no-ext-diff", "--no-textconv", "--no-color", base, new, "--")
    text = done.stdout.decode("utf-8", "replace")
    if not text.strip():
        return NO_CHANGE
    if len(text) > MAX_DIFF_CHARS:
        cut = text.rfind("\n", 0, MAX_DIFF_CHARS) + 1 or MAX_DIFF_CHARS
        return text[:cut] + f"… (diff cut: {len(text) - cut} more characters)\n"
    return text
