"""The one rule for tests that need something from the machine: skip locally, fail in CI."""

from __future__ import annotations

import pytest

from tests.support import needs


def test_a_missing_tool_fails_in_ci_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but Chromium is missing or unusable: no executable"):
        needs.unavailable("Chromium", "no executable at /usr/bin/chromium")
    with pytest.raises(pytest.fail.Exception, match="cgroup v2 delegation"):
        needs.require_cgroup({"pids": "rlimit"}, ["pids: no delegated cgroup"])


def test_a_missing_tool_is_a_skip_with_its_reason_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="bubblewrap is missing or unusable here: not installed"):
        needs.unavailable("bubblewrap", "not installed")
    needs.require_cgroup({"pids": "cgroup v2 (pids.max)"}, [])  # applied through a cgroup: nothing to say
