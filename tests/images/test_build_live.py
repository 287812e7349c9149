"""A real build, followed live: `hivectl spawn NAME --config x.toml` prints the image's build log while
the spawn runs (mmdebstrap's own lines, before the agent's status). The dashboard's live card is shown
with a held log in tests/web/test_image_build_live.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperhive.images import ImageService
from tests.core.test_sandboxed_agents import AGENT_TOML, end_hive, start_hive
from tests.support.hive import HiveProcess
from tests.support.images import build_test_image
from tests.support.reaper import acting_as_init

pytestmark = [pytest.mark.bwrap, pytest.mark.timeout(900)]
PACKAGES = ["sl"]  # small, and used by no other test: its image is removed for a cold build each run


@pytest.fixture
def hive(short_tmp: Path, claude_bin: str) -> Iterator[HiveProcess]:
    build_test_image(claude_bin, [])
    with acting_as_init():
        running = start_hive(short_tmp / "hive", {"HYPERHIVE_CLAUDE": claude_bin})
        try:
            yield running
        finally:
            end_hive(running)


def test_hivectl_spawn_prints_the_image_build_log_as_it_goes(hive: HiveProcess, claude_bin: str,
                                                             short_tmp: Path) -> None:
    service = ImageService(Path("/nonexistent-state"), "bwrap", Path(claude_bin))
    store, image_id = asyncio.run(service.store()), asyncio.run(service.plan(PACKAGES)).final.image_id
    store.remove(image_id)
    config = short_tmp / "trains.toml"
    config.write_text(f"packages = {json.dumps(PACKAGES)}\n" + AGENT_TOML.format(name="trains"))
    argv = [sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir", str(hive.settings.runtime_dir),
            "spawn", "trains", "--config", str(config)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as spawn:
        assert spawn.stdout is not None
        printed = []
        for line in spawn.stdout:
            printed.append(line)
            if line.startswith("image build: I: extracting archives"):
                assert spawn.poll() is None, "the log came only after the spawn had ended"
                break
        else:
            pytest.fail(f"no build log line before the spawn ended (exit {spawn.wait()}): {printed}")
        rest = spawn.stdout.read()
        assert spawn.wait() == 0, rest
    assert "image build: I: success in" in rest
    assert "trains" in rest.rsplit("image build:", 1)[-1]  # the spawn's report comes after the log
    assert store.get(image_id) is not None
