"""A sandbox root made from an image (hyperhive.images): bwrap builds its root on a tmpfs and binds into it
only the image's system trees, read-only. Everything else in the sandbox is what bwrap.py adds (the
hive's runtime at its host paths, the home, /run/hive, /tmp, bind mounts), so a host path that this module
does not name is not visible. The one list of host paths still shown is HOST_FILES."""

from __future__ import annotations

import os
from pathlib import Path

# The image's top-level trees a sandbox sees. /root, /home, /opt, /srv… stay out: the hive's runtime is
# bound at its host path, which may lie under them, and bwrap cannot make mount points in a read-only tree.
IMAGE_TREES = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "var")
# Host files shown on top of the image: name resolution must follow the host's network. Nothing else of
# the host's system is visible.
HOST_FILES = ("/etc/resolv.conf", "/etc/hosts")


def image_root_mounts(image_root: Path) -> list[str]:
    """bwrap arguments that show `image_root`'s system trees at / (symlinks such as /bin -> usr/bin kept
    as symlinks)."""
    args: list[str] = []
    for name in IMAGE_TREES:
        path = image_root / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{name}"]
    for host in HOST_FILES:
        if os.path.exists(host) and (image_root / host.lstrip("/")).exists():
            args += ["--ro-bind", host, host]
    return args
