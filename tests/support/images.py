"""The agent images the tests share: built with real mmdebstrap from this machine's Debian mirror, once
per machine and inputs, under ~/.cache/hyperhive-test-images (or $HYPERHIVE_TEST_IMAGES). Every hive a
test starts finds them there through HYPERHIVE_IMAGE_DIR, so only a cold machine pays for a build."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from hyperhive.images import IMAGE_DIR_ENV, ImageInfo, ImageService
from tests.support.needs import unavailable

TEST_IMAGES_ENV = "HYPERHIVE_TEST_IMAGES"


def test_image_dir() -> Path:
    return Path(os.environ.get(TEST_IMAGES_ENV) or Path.home() / ".cache" / "hyperhive-test-images")


def share_test_images() -> None:
    """Point every hive of this test run (in-process and subprocesses) at the shared image cache."""
    os.environ.setdefault(IMAGE_DIR_ENV, str(test_image_dir()))


def require_mmdebstrap() -> None:
    if shutil.which("mmdebstrap") is None:
        unavailable("mmdebstrap", "not installed (scripts/setup installs it with apt)")


def build_test_image(claude_bin: str, packages: list[str]) -> ImageInfo:
    require_mmdebstrap()
    service = ImageService(Path("/nonexistent-state"), "bwrap", Path(claude_bin))
    return asyncio.run(service.ensure(packages))
