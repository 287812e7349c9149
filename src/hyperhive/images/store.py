"""Built images on disk, content-addressed by their inputs:

    <image_dir>/<id>/root/        the tree a sandbox's root is made from (read-only to sandboxes)
    <image_dir>/<id>/image.json   its inputs, size and build time
    <image_dir>/.build-<id>-<pid>/ a build in progress, renamed to <id>/ when complete
    <image_dir>/locks/<id>.lock   flock: one build of an id at a time
    <image_dir>/logs/<id>.log     the last build's output (apt's and mmdebstrap's)
    <image_dir>/apt-cache/        downloaded .debs, shared by all builds

An image dir that exists is complete: it only ever appears by rename."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .inputs import ImageInputs

IMAGE_META = "image.json"
BUILD_PREFIX = ".build-"


@dataclass(frozen=True)
class ImageInfo:
    image_id: str
    path: Path
    inputs: ImageInputs
    own_bytes: int
    """Disk the image takes beyond the base it shares files with (all of it for a base)."""
    built_at: float

    @property
    def root(self) -> Path:
        return self.path / "root"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.image_id, "path": str(self.path), "inputs": self.inputs.to_dict(),
                "own_bytes": self.own_bytes, "built_at": self.built_at}


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, image_id: str) -> Path:
        return self.root / image_id

    def log_path(self, image_id: str) -> Path:
        return self.root / "logs" / f"{image_id}.log"

    def lock_path(self, image_id: str) -> Path:
        return self.root / "locks" / f"{image_id}.lock"

    @property
    def apt_cache(self) -> Path:
        return self.root / "apt-cache"

    def make_dirs(self) -> None:
        for sub in ("logs", "locks", "apt-cache"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def get(self, image_id: str) -> ImageInfo | None:
        """The complete image `image_id`, or None."""
        path = self.path(image_id)
        try:
            data = json.loads((path / IMAGE_META).read_text())
        except (OSError, ValueError):
            return None
        raw = data["inputs"]
        inputs = ImageInputs(raw["suite"], raw["mirror"], tuple(raw["packages"]), raw["base"], raw.get("refresh", ""))
        return ImageInfo(image_id, path, inputs, int(data["own_bytes"]), float(data["built_at"]))

    def all(self) -> list[ImageInfo]:
        found = []
        for entry in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if entry.name.startswith(("base-", "pkg-")):
                info = self.get(entry.name)
                if info is not None:
                    found.append(info)
        return found

    @property
    def refresh_stamp(self) -> str:
        """The stamp `hivectl rebuild --refresh` set last ("" until then): part of every image's inputs."""
        try:
            return (self.root / "refresh").read_text().strip()
        except FileNotFoundError:
            return ""

    def set_refresh_stamp(self, stamp: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "refresh.tmp"
        tmp.write_text(stamp + "\n")
        os.replace(tmp, self.root / "refresh")

    def unused_since(self, image_id: str, now: float, in_use: bool) -> float | None:
        """When the image fell out of use (marked now if it just did), or None while it is in use."""
        marker = self.path(image_id) / "unused-since"
        if in_use:
            marker.unlink(missing_ok=True)
            return None
        try:
            return float(marker.read_text())
        except (FileNotFoundError, ValueError):
            marker.write_text(repr(now))
            return now

    def aside(self, image_id: str) -> Path:
        return self.root / f"{BUILD_PREFIX}{image_id}-{os.getpid()}"

    def publish(self, aside: Path, inputs: ImageInputs, own_bytes: int) -> ImageInfo:
        """Write the metadata into the aside dir, then rename it into place (the one step that makes an
        image exist)."""
        meta = {"inputs": inputs.to_dict(), "own_bytes": own_bytes, "built_at": time.time()}
        tmp = aside / (IMAGE_META + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, aside / IMAGE_META)
        aside.chmod(0o755)
        os.replace(aside, self.path(inputs.image_id))  # rename(2): atomic on one filesystem
        info = self.get(inputs.image_id)
        assert info is not None
        return info

    def clear_leftovers(self, image_id: str) -> None:
        """Remove aside dirs of earlier builds of `image_id` (call holding its lock: they are dead)."""
        for entry in self.root.glob(f"{BUILD_PREFIX}{image_id}-*"):
            shutil.rmtree(entry, ignore_errors=True)

    def remove(self, image_id: str) -> None:
        """Rename out of the way first, so the id is never half there, then delete."""
        path = self.path(image_id)
        if not path.exists():
            return
        doomed = self.root / f"{BUILD_PREFIX}removed-{image_id}-{os.getpid()}"
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
