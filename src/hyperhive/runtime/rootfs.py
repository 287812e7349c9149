"""A sandbox root made from an image (hyperhive.images): bwrap builds its root on a tmpfs and binds into it
only the image's system trees, read-only. Everything else in the sandbox is what bwrap.py adds (the
hive's runtime at its host paths, the home, /run/hive, /tmp, bind mounts), so a host path that this module
does not name is not visible. The one list of host paths still shown is HOST_FILES."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable
from pathlib import Path

# The image's top-level trees a sandbox sees. /root, /home, /opt, /srv… stay out: the hive's runtime is
# bound at its host path, which may lie under them, and bwrap cannot make mount points in a read-only tree.
IMAGE_TREES = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "var")
# Host files shown on top of the image: name resolution must follow the host's network. Nothing else of
# the host's system is visible.
HOST_FILES = ("/etc/resolv.conf", "/etc/hosts")


def image_root_mounts(image_root: Path, mount_targets: Iterable[str] = ()) -> list[str]:
    """bwrap arguments that show `image_root`'s system trees at / (symlinks such as /bin -> usr/bin kept
    as symlinks). A bind mount's target under a tree that the image lacks (`/etc/nix/key`) needs a mount
    point bwrap cannot make in a read-only tree: the dirs on its way are then made on the sandbox's root
    instead, their other entries bound one by one (`_show`)."""
    targets = [posixpath.normpath(target) for target in mount_targets]
    args: list[str] = []
    for name in IMAGE_TREES:
        path = image_root / name
        if path.is_symlink() or path.is_dir():
            args += _show(path, f"/{name}", targets)
    for host in HOST_FILES:
        if os.path.exists(host) and (image_root / host.lstrip("/")).exists():
            args += ["--ro-bind", host, host]
    return args


def _show(source: Path, at: str, targets: list[str]) -> list[str]:
    """`source` (in the image) at `at`, read-only: bound whole, unless a target below it is missing in the
    image; then `at` is a dir on the root (made read-only with it) holding each entry shown the same way."""
    if source.is_symlink():
        return ["--symlink", os.readlink(source), at]
    below = [target for target in targets if target.startswith(at + "/")]
    if not source.is_dir() or all(_in_image(source, posixpath.relpath(t, at)) for t in below):
        return ["--ro-bind", str(source), at]
    args = ["--perms", f"{stat.S_IMODE(source.stat().st_mode):04o}", "--dir", at]
    for entry in sorted(os.listdir(source)):
        args += _show(source / entry, f"{at}/{entry}", below)
    return args


def _in_image(root: Path, relative: str) -> bool:
    """Whether `relative` exists under `root`, walked without following symlinks (a symlink on the way is
    resolved by bwrap inside the sandbox, beyond what this can see: taken as there)."""
    path = root
    for part in relative.split("/"):
        path = path / part
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return True
        except FileNotFoundError:
            return False
    return True
