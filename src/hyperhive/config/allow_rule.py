""""Allow from now on": an ask rule moved to `[tools] allow`, committed in the agent's proposed repo.

Claude Code checks deny, then ask, then allow: a rule that stays in `ask` would still ask, so the rule leaves
`ask` and joins `allow` (an unset `allow` becomes the default set plus the rule). Like a rollback, the commit
is made with git's plumbing on top of HEAD (a compare-and-swap on the branch, so a commit the manager makes
meanwhile is never lost); the worktree is left alone. The file is rewritten from its parsed form (tomli-w),
so comments in agent.toml do not survive; the operator sees the whole change as the proposal's diff.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence

import tomli_w

from ._git import git_out, run_git
from .agent_toml import AGENT_TOML, load_agent_config
from .errors import TagConflict
from .proposed import ProposedRepo
from .sections import DEFAULT_ALLOWED_TOOLS


def with_rule_allowed(text: str, rule: str) -> str:
    """agent.toml's text with `rule` out of `[tools] ask` and in `[tools] allow` (validated)."""
    data: dict[str, object] = tomllib.loads(text)
    table = data.get("tools")
    tools: dict[str, object] = dict(table) if isinstance(table, dict) else {}
    tools["ask"] = [r for r in _rules(tools, "ask", []) if r != rule]
    if not tools["ask"]:
        del tools["ask"]
    allow = _rules(tools, "allow", DEFAULT_ALLOWED_TOOLS)
    if rule not in allow:
        allow.append(rule)
    tools["allow"] = allow
    data["tools"] = tools
    new = tomli_w.dumps(data)
    load_agent_config(new)  # never propose what cannot be deployed
    return new


def _rules(tools: Mapping[str, object], key: str, default: Sequence[str]) -> list[str]:
    """A list of rules of the `[tools]` table as written (a wrong type is load_agent_config's to refuse)."""
    value = tools.get(key, default)
    return [str(r) for r in value] if isinstance(value, list | tuple) else list(default)


def commit_rule_allowed(proposed: ProposedRepo, rule: str, message: str) -> str | None:
    """The new commit's sha, or None when HEAD already allows the rule without asking."""
    git_dir = proposed.git_dir()
    head = proposed.head()
    if head is None:
        raise TagConflict(f"{proposed.where} has no commit yet")
    text = run_git(git_dir, "cat-file", "blob", f"{head}:{AGENT_TOML}").stdout.decode()
    new_text = with_rule_allowed(text, rule)
    if new_text == text:
        return None
    blob = run_git(git_dir, "hash-object", "-w", "--no-filters", "--stdin", stdin=new_text.encode()).stdout
    entries = []
    for line in git_out(git_dir, "ls-tree", "--full-tree", head).splitlines():
        meta, path = line.split("\t", 1)
        if path == AGENT_TOML:
            mode, kind, _ = meta.split()
            meta = f"{mode} {kind} {blob.decode().strip()}"
        entries.append(f"{meta}\t{path}")
    tree = run_git(git_dir, "mktree", stdin=("\n".join(entries) + "\n").encode()).stdout.decode().strip()
    new = git_out(git_dir, "commit-tree", tree, "-p", head, "-m", message)
    done = run_git(git_dir, "update-ref", "-m", "allow rule", proposed.head_ref(), new, head, check=False)
    if done.returncode != 0:
        raise TagConflict(f"{proposed.where} moved while the change was made; try again")
    run_git(git_dir, "read-tree", new)
    return new
