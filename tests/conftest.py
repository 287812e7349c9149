"""Fixtures shared by the whole suite. Fixtures for one area live beside its tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import build_test_image, share_test_images

share_test_images()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path: AF_UNIX socket paths must stay under 108 bytes, and pytest's
    tmp_path (/tmp/pytest-of-root/pytest-N/test_long_name0/...) plus `agents/<name>/manager.sock` does not."""
    path = Path(tempfile.mkdtemp(prefix="hh-", dir="/tmp"))
    try:
        yield path
    finally:
        from tests.support.hive import reap_sandboxes

        try:
            reap_sandboxes(path)  # keepers a test's in-process hives left would outlive the suite
        finally:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def claude_bin() -> str:
    """The pinned Claude Code CLI that scripts/setup installs."""
    candidates = [os.environ.get("HYPERHIVE_CLAUDE", ""),
                  str(Path(__file__).resolve().parent.parent / ".tools/claude/node_modules/.bin/claude")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("claude")
    if found:
        return found
    pytest.fail("the claude CLI is not installed: run scripts/setup (it installs the pinned npm package)")


@pytest.fixture(scope="session", autouse=True)
def _base_image_for_sandboxes(request: pytest.FixtureRequest) -> None:
    """Sandboxed agents run on the base image: build it once, before the first bwrap test (a no-op on
    a machine that has it cached)."""
    if any(item.get_closest_marker("bwrap") or "bwrap" in item.nodeid for item in request.session.items):
        build_test_image(request.getfixturevalue("claude_bin"), [])


pytest_plugins = ["tests.support.fixtures"]
