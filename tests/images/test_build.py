"""Real builds with mmdebstrap against this machine's Debian mirror: a bogus package fails with apt's own
sentence and leaves nothing; a builder killed with SIGKILL mid-build leaves no image in use, and the next
build of the same id completes; a package-set image shares the base's files."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hyperhive.images import ImageBuildError, ImageService, ImageStore
from tests.support.images import build_test_image, require_mmdebstrap

pytestmark = pytest.mark.timeout(900)


def service(claude_bin: str) -> ImageService:
    return ImageService(Path("/nonexistent-state"), "bwrap", Path(claude_bin))


def store_and_plan(claude_bin: str, packages: list[str]) -> tuple[ImageStore, str]:
    svc = service(claude_bin)
    return asyncio.run(svc.store()), asyncio.run(svc.plan(packages)).final.image_id


def test_a_bogus_package_fails_with_apts_sentence_and_leaves_no_image(claude_bin: str) -> None:
    build_test_image(claude_bin, [])
    with pytest.raises(ImageBuildError) as failed:
        asyncio.run(service(claude_bin).ensure(["hh-no-such-package"]))
    assert str(failed.value) == "Unable to locate package hh-no-such-package"
    store, image_id = store_and_plan(claude_bin, ["hh-no-such-package"])
    assert store.get(image_id) is None and not store.path(image_id).exists()
    assert list(store.root.glob(f".build-{image_id}-*")) == []


def test_a_builder_killed_mid_build_leaves_no_image_and_the_next_build_completes(claude_bin: str) -> None:
    build_test_image(claude_bin, [])
    store, image_id = store_and_plan(claude_bin, ["hello"])
    store.remove(image_id)  # a cold build each run
    argv = [sys.executable, str(Path(__file__).with_name("_build_one.py")), claude_bin, "hello"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]) as builder:
        assert builder.stdout is not None
        for line in builder.stdout:  # readiness: mmdebstrap is writing the tree
            if line.startswith("I: extracting archives"):
                break
        else:
            pytest.fail(f"the builder ended before extracting (exit {builder.wait()})")
        os.kill(builder.pid, signal.SIGKILL)
        builder.wait()
    assert store.get(image_id) is None and not store.path(image_id).exists()
    assert list(store.root.glob(f".build-{image_id}-*")), "the half tree was built aside"
    info = build_test_image(claude_bin, ["hello"])  # waits for the killed build's mmdebstrap (its lock), then builds
    assert info.image_id == image_id and (info.root / "usr/bin/hello").is_file()
    assert list(store.root.glob(f".build-{image_id}-*")) == []


def test_a_package_set_image_shares_the_base_files_and_costs_only_its_own(claude_bin: str) -> None:
    require_mmdebstrap()
    base = build_test_image(claude_bin, [])
    own = build_test_image(claude_bin, ["hello"])
    assert own.inputs.base == base.image_id
    libc = "usr/lib/x86_64-linux-gnu/libc.so.6"
    if (base.root / libc).exists():
        assert (own.root / libc).resolve().stat().st_ino == (base.root / libc).resolve().stat().st_ino
    assert 0 < own.own_bytes < base.own_bytes / 4
    assert not (own.root / "etc/shadow").exists()
