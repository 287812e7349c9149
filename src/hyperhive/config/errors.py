"""Named errors of the config package. Each carries a stable `code` for the wire, and a message that is one
clear sentence (or several, joined) naming the key or ref at fault; no traceback ever needs to reach a user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ConfigIssue:
    """One thing wrong with a config file: `key` is a dotted path such as `restart.policy` or
    `bind_mounts[0].host` ("" for the file as a whole)."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}" if self.key else self.reason


class KeyedValueError(ValueError):
    """Raised inside a model validator to name the key at fault (pydantic would name only the table)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(reason)


class ConfigError(ValueError):
    """An agent.toml or host.toml that does not parse or does not validate; lists every issue found."""

    code: ClassVar[str] = "invalid_config"

    def __init__(self, source: str, issues: list[ConfigIssue], line: int | None = None) -> None:
        self.source = source
        self.issues = issues
        self.line = line
        super().__init__(f"invalid {source}: " + "; ".join(str(issue) for issue in issues))


class PolicyError(ValueError):
    """An agent config the host policy refuses; `violations` holds one sentence per violation, each naming
    its key."""

    code: ClassVar[str] = "policy_violation"

    def __init__(self, agent: str, violations: list[str]) -> None:
        self.agent = agent
        self.violations = violations
        super().__init__(f"the host policy refuses the config of {agent!r}: " + "; ".join(violations))


class RepoError(Exception):
    """Base of the errors of the proposed and applied config repos."""

    code: ClassVar[str] = "repo_error"


class BadCommitRef(RepoError):
    """A commit reference that is not a 7-40 digit hex sha naming exactly one commit."""

    code = "bad_commit_ref"


class NothingToRollBack(RepoError):
    """A rollback was asked for, but there is no earlier deploy to return to."""

    code = "nothing_to_roll_back"


class RepoMissing(RepoError):
    """The repo does not exist (yet)."""

    code = "repo_missing"


class RepoExists(RepoError):
    """Refused to seed a repo that already exists."""

    code = "repo_exists"


class UnknownApproval(RepoError):
    """The applied repo has no `proposal/<id>` tag for this approval: its commit was never fetched."""

    code = "unknown_approval"


class BadTransition(RepoError):
    """A tag the approval's lifecycle does not allow now, e.g. `deployed` before `approved`, or `approved`
    after `denied`."""

    code = "bad_transition"


class TooLarge(RepoError):
    """A commit whose history is too large to copy into the applied repo."""

    code = "too_large"


class BadBundle(RepoError):
    """A config bundle from the database (a commit carried to the agent's node) that is refused: too large,
    not a bundle this hive makes, naming refs outside the agent's or another commit, or with a corrupt pack."""

    code = "bad_bundle"


class TagConflict(RepoError):
    """A tag for this approval already exists and points to another commit, or a deploy raced another."""

    code = "tag_conflict"


class UnsafeRepo(RepoError):
    """A path or a repo layout the daemon refuses to touch: a symlink, a `.git` file, alternates, a path that
    would leave the state dir."""

    code = "unsafe_repo"


class GitFailed(RepoError):
    """The git CLI failed in a way this package did not expect; the message holds git's own words."""

    code = "git_failed"
