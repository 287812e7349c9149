"""Hive fixtures for every test folder (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive

from .hive import HiveProcess, settings_for


@pytest.fixture
async def hive(short_tmp: Path) -> AsyncIterator[Hive]:
    """An in-process hive serving real Unix sockets in a short temp dir."""
    async with Hive(settings_for(short_tmp)) as running:
        yield running


@pytest.fixture
def hive_proc(short_tmp: Path) -> Iterator[HiveProcess]:
    """A real `hive-c0re` subprocess; its log is printed if the test fails."""
    proc = HiveProcess(short_tmp)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
