"""What some tests need from the machine (bubblewrap, user namespaces, cgroup delegation, Chromium), and
the one rule for when it is missing: with `CI=true` that is a failure naming what is missing, since CI
installs everything (scripts/setup) and a skip there would hide a broken install; elsewhere it is a skip
with its reason."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pytest

from hyperhive.runtime.bwrap import probe_bwrap

CHROMIUM = os.environ.get("HYPERHIVE_CHROMIUM", "/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip (locally) or fail (CI=true) a test because the machine lacks `what`."""
    if in_ci():
        pytest.fail(f"CI=true but {what} is missing or unusable: {reason} (scripts/setup installs it)",
                    pytrace=False)
    pytest.skip(f"{what} is missing or unusable here: {reason}")


def require_bwrap() -> None:
    """bubblewrap installed and able to create the sandbox's namespaces (user, pid, net, mount)."""
    problem = probe_bwrap()
    if problem is None:
        return
    what = "bubblewrap" if "not installed" in problem else "user namespaces for bubblewrap"
    unavailable(what, problem)


def require_cgroup(applied: dict[str, str], unapplied: Any, limit: str = "pids") -> None:
    """A run's limits came from a delegated cgroup (not rlimits or nothing)."""
    if not applied.get(limit, "").startswith("cgroup"):
        unavailable("cgroup v2 delegation", f"{limit} was not applied through a cgroup: {unapplied}")


def require_chromium() -> str:
    if not os.path.exists(CHROMIUM):
        unavailable("Chromium", f"no executable at {CHROMIUM}")
    return CHROMIUM
