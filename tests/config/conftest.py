"""Config repos in a short temp state dir, with real git."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.config import AppliedRepo, ProposedRepo


@pytest.fixture
def state(short_tmp: Path) -> Path:
    return short_tmp


@pytest.fixture
def proposed(state: Path) -> ProposedRepo:
    """alice's proposed repo, seeded from the template."""
    repo = ProposedRepo(state, "alice")
    repo.seed("test agent")
    return repo


@pytest.fixture
def applied(state: Path) -> AppliedRepo:
    return AppliedRepo(state, "alice")
