"""The life of images without building any: unused ones are marked, then removed after the grace period
(renamed away first); a refresh stamp gives every image a new id; `needs_update` says when an agent's
image is no longer the one it would get."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hyperhive.images import ImageInputs, ImageService, ImageStore
from hyperhive.images.gc import collect


def fake_built(store: ImageStore, packages: tuple[str, ...]) -> str:
    """An image as the builder leaves it (a tree and its metadata, renamed into place), minus mmdebstrap."""
    inputs = ImageInputs("bookworm", "http://deb.debian.org/debian", packages)
    aside = store.aside(inputs.image_id)
    (aside / "root" / "usr" / "bin").mkdir(parents=True)
    (aside / "root" / "usr" / "bin" / "tool").write_text("#!/bin/sh\n")
    store.publish(aside, inputs, own_bytes=4096)
    return inputs.image_id


def test_an_unused_image_is_removed_only_after_the_grace_period(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    used, unused = fake_built(store, ("git",)), fake_built(store, ("git", "hello"))
    assert collect(store, {used}, set(), grace=10, now=100.0) == ([], 110.0)
    assert collect(store, {used}, set(), grace=10, now=109.0) == ([], 110.0)
    assert collect(store, {used}, {unused}, grace=10, now=200.0) == ([], None)  # never while it builds
    assert collect(store, {used}, set(), grace=10, now=110.0) == ([unused], None)
    assert store.get(unused) is None and not list(store.root.glob(f"*{unused}*"))
    assert store.get(used) is not None
    assert collect(store, set(), set(), grace=10, now=300.0) == ([], 310.0)  # fell out of use: marked now
    assert collect(store, {used}, set(), grace=10, now=400.0) == ([], None)  # back in use: the mark goes
    assert collect(store, set(), set(), grace=10, now=401.0) == ([], 411.0)


def test_a_refresh_makes_new_images_and_needs_update_notices(tmp_path: Path, claude_bin: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "host.toml").write_text(f'image_dir = "{tmp_path / "images"}"\n')
    images = ImageService(state, "bwrap", Path(claude_bin))
    before = asyncio.run(images.plan(["hello"]))
    started_on = asyncio.run(images.store()).path(before.final.image_id) / "root"
    assert asyncio.run(images.needs_update(["hello"], started_on)) is False
    assert asyncio.run(images.needs_update(["hello", "cowsay"], started_on)) is True
    asyncio.run(images.refresh("2026-11-25T18:00:00Z"))
    after = asyncio.run(images.plan(["hello"]))
    assert after.base.image_id != before.base.image_id and after.final.image_id != before.final.image_id
    assert asyncio.run(images.needs_update(["hello"], started_on)) is True
    assert asyncio.run(ImageService(state, "process", None).needs_update(["hello"], started_on)) is False


def test_the_collector_reads_host_toml_and_removes_what_its_hive_does_not_use(tmp_path: Path) -> None:
    from hyperhive.images.gc import MIN_DELAY, ImageCollector

    state = tmp_path / "state"
    state.mkdir()
    (state / "host.toml").write_text(f'image_dir = "{tmp_path / "images"}"\nimage_grace_hours = 0.5\n')
    store = ImageStore(tmp_path / "images")
    used, unused = fake_built(store, ("git",)), fake_built(store, ("git", "hello"))

    async def in_use() -> set[str]:
        return {used}

    collector = ImageCollector(ImageService(state, "bwrap", None), in_use)
    removed, delay = asyncio.run(collector.run_once())
    assert removed == [] and MIN_DELAY <= delay <= 1800  # marked: due in half an hour
    (store.path(unused) / "unused-since").write_text("0.0")  # as if marked long ago
    removed, delay = asyncio.run(collector.run_once())
    assert removed == [unused] and store.get(used) is not None and delay == 1800
