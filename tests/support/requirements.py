"""A tool the suite needs and cannot find: with CI=true that is a failure naming it (CI installs every
tool itself, so a missing one is a broken setup, never a reason to pass); locally a skip naming it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"missing in CI: {what}", pytrace=False)
    pytest.skip(f"missing: {what}")
