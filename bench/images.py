"""Agent images benchmark: real mmdebstrap against this machine's Debian mirror, real bubblewrap.

Prints the base image's build time (cold: a fresh image dir, empty .deb cache), a package-set image's
build time on top of it (its own packages cold), the spawn overhead of a cached image (the image lookup
at start plus a sandbox on the image root, against a sandbox on the host's /usr as before images, both
starting the harness's interpreter and imports), and the disk each image takes beyond the base.

    .venv/bin/python bench/images.py [--packages librsvg2-bin] [--starts 20] [--image-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hyperhive.config.settings import load_settings
from hyperhive.core.sandbox_spec import claude_bin
from hyperhive.images import IMAGE_DIR_ENV, ImageService
from hyperhive.runtime.bwrap import ISOLATION, system_mounts
from hyperhive.runtime.paths import python_paths
from hyperhive.runtime.rootfs import image_root_mounts


def sandbox_argv(image: Path | None) -> list[str]:
    """A sandbox like an agent's (isolation, root, the runtime bound read-only) running the harness's
    interpreter up to its imports, so the image's libraries are really loaded."""
    args = ["bwrap", *ISOLATION, "--unshare-net", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    args += image_root_mounts(image) if image else system_mounts()
    for path in python_paths():
        args += ["--ro-bind", str(path), str(path)]
    return [*args, "--remount-ro", "/", "--", sys.executable, "-c", "import ssl, sqlite3, hyperhive.agent.harness"]


def time_starts(image: Path, starts: int) -> tuple[list[float], list[float]]:
    """Host-root and image-root starts, alternated so a loaded machine's swings hit both alike."""
    host, on_image = [], []
    for _ in range(starts):
        for root, times in ((None, host), (image, on_image)):
            began = time.perf_counter()
            subprocess.run(sandbox_argv(root), check=True)
            times.append((time.perf_counter() - began) * 1000)
    return host, on_image


async def time_lookup(images: ImageService, packages: list[str], starts: int) -> list[float]:
    times = []
    for _ in range(starts):
        began = time.perf_counter()
        await images.root_for(packages)
        times.append((time.perf_counter() - began) * 1000)
    return times


def du_mb(*paths: Path) -> float:
    out = subprocess.run(["du", "-s", "--block-size=1", *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines()) / 1e6


async def main(packages: list[str], starts: int, image_dir: Path | None) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="hh-bench-images-", dir="/var/tmp"))
    os.environ[IMAGE_DIR_ENV] = str(image_dir or scratch / "images")
    settings = load_settings({"state_dir": str(scratch / "state"), "runtime": "bwrap"}, environ={})
    images = ImageService(settings.state_dir, "bwrap", claude_bin(settings))
    try:
        began = time.perf_counter()
        base = await images.ensure([])
        print(f"base image {base.image_id}: built in {time.perf_counter() - began:.1f} s, "
              f"{base.own_bytes / 1e6:.0f} MB")
        began = time.perf_counter()
        own = await images.ensure(packages)
        print(f"package-set image {own.image_id} ({' '.join(packages)}): built in "
              f"{time.perf_counter() - began:.1f} s (its own packages cold)")
        print(f"disk beyond the base: {own.own_bytes / 1e6:.1f} MB (du of base and image together minus base: "
              f"{du_mb(base.path, own.path) - du_mb(base.path):.1f} MB; the image alone would be "
              f"{du_mb(own.path):.0f} MB)")
        time_starts(own.root, 2)  # warm both page caches first
        host_times, image_times = time_starts(own.root, starts)
        host, on_image = statistics.median(host_times), statistics.median(image_times)
        lookup = statistics.median(await time_lookup(images, packages, starts))
        print(f"sandbox start to the harness's imports, p50 of {starts}: host /usr {host:.1f} ms, image "
              f"{on_image:.1f} ms; image lookup at start {lookup:.2f} ms; overhead "
              f"{on_image - host + lookup:.1f} ms (target < 50 ms)")
    finally:
        if image_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", nargs="+", default=["librsvg2-bin"])
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--image-dir", type=Path, default=None, help="Keep images here (default: a cold scratch dir)")
    args = parser.parse_args()
    asyncio.run(main(args.packages, args.starts, args.image_dir))
