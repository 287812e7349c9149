"""Run the git CLI with nothing taken from the host's or the user's git setup.

Every call gets a fresh environment (no GIT_DIR, GIT_INDEX_FILE or the like leaking in from a caller), no
system or global config, an explicit `--git-dir`, a fixed identity, and `-c` overrides that switch off
what a repo's own config could make git run: hooks, fsmonitor, signing, pagers, transports other than
local files. The proposed repos are writable by the manager agent, so their `.git/config` is not trusted:
no transport ever runs in or against them (see _objects), and lazy fetches and replace refs are off.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import GitFailed

_HARDENING = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.editor=false",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "credential.helper=",
    "protocol.allow=never",
    "protocol.file.allow=always",
    "protocol.version=2",
    "transfer.fsckObjects=true",
    "gc.auto=0",
    "maintenance.auto=false",
    "advice.detachedHead=false",
)
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


DAEMON = Identity("hive-c0re", "hive-c0re@hyperhive.invalid")


def git_env(identity: Identity = DAEMON) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "XDG_CONFIG_HOME": "/nonexistent",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        # A promisor remote in a manager-written config would otherwise run its transport (any command, via
        # protocol.ext.allow) the moment git misses an object; git >= 2.39.4 honours this.
        "GIT_NO_LAZY_FETCH": "1",
        # refs/replace/ would let a repo show other content under a sha we resolved.
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_AUTHOR_NAME": identity.name,
        "GIT_AUTHOR_EMAIL": identity.email,
        "GIT_COMMITTER_NAME": identity.name,
        "GIT_COMMITTER_EMAIL": identity.email,
    }


def git_command(git_dir: Path | None, args: Sequence[str], work_tree: Path | None = None) -> list[str]:
    command = ["git", "--no-pager"]
    for setting in _HARDENING:
        command += ["-c", setting]
    if git_dir is not None:
        command.append(f"--git-dir={git_dir}")
    if work_tree is not None:
        command.append(f"--work-tree={work_tree}")
    return [*command, *args]


def run_git(
    git_dir: Path | None,
    *args: str,
    work_tree: Path | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    identity: Identity = DAEMON,
) -> subprocess.CompletedProcess[bytes]:
    """Run one git command. With check, a non-zero exit raises GitFailed with git's stderr."""
    command = git_command(git_dir, args, work_tree)
    try:
        done = subprocess.run(
            command,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=git_env(identity),
            cwd=work_tree or git_dir or "/",
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {args[0]} took longer than {TIMEOUT_SECONDS} s") from None
    except FileNotFoundError:
        raise GitFailed("the git command is not installed") from None
    if check and done.returncode != 0:
        raise GitFailed(f"git {args[0]} failed: {_tail(done.stderr)}")
    return done


def git_out(git_dir: Path | None, *args: str, work_tree: Path | None = None) -> str:
    """stdout of a git command that must succeed, stripped."""
    return run_git(git_dir, *args, work_tree=work_tree).stdout.decode("utf-8", "replace").strip()


def _tail(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text if len(text) <= 800 else "…" + text[-800:]
