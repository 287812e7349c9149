"""Finding a cgroup the daemon may put sandboxes under, per controller (memory, cpu, pids).

cgroup v2 first: the parent of the daemon's own cgroup, when it is *delegated* to us — owned by our
(non-root) user, or marked with the `trusted.delegate`/`user.delegate` xattr that systemd sets for
`Delegate=yes` — so a root daemon never writes into systemd's own tree uninvited. The daemon lives in a
leaf below it (systemd's `DelegateSubgroup=`), because a v2 cgroup with processes of its own cannot hand
controllers to children; under a systemd too old for that setting, it moves itself into that leaf.
Then cgroup v1 (legacy and hybrid hosts, root only in practice): the daemon's own cgroup in each
controller's hierarchy. Anything not found falls back to rlimits (see limits.py).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "cpu", "pids")
_DELEGATE_XATTRS = ("trusted.delegate", "user.delegate")
LEAF = "c0re"  # where the daemon lives inside its delegated cgroup (systemd's DelegateSubgroup=c0re)


@dataclass(frozen=True)
class CgroupParent:
    """Where to create a sandbox's cgroup for one controller."""

    version: int
    dir: Path


def find_parents(explicit_v2: Path | None = None, proc: Path = Path("/proc/self")) -> dict[str, CgroupParent]:
    """Controller -> the cgroup to create sandboxes under, for each controller we can use."""
    found: dict[str, CgroupParent] = {}
    v2 = explicit_v2 or _delegated_v2_parent(proc)
    if v2 is not None:
        for controller in _enable_controllers(v2):
            found[controller] = CgroupParent(2, v2)
    for controller, directory in _v1_dirs(proc).items():
        found.setdefault(controller, CgroupParent(1, directory))
    return found


def _delegated_v2_parent(proc: Path) -> Path | None:
    mount = next(iter(_mounts(proc, "cgroup2")), None)
    own = _own_paths(proc).get("")
    if mount is None or own is None or own == "/":
        return None
    own_dir = mount[0] / own.lstrip("/")
    if _is_delegated(own_dir.parent):
        return own_dir.parent
    # systemd < 254 has no DelegateSubgroup=: a Delegate=yes service's daemon sits in the delegated cgroup
    # itself. Do what DelegateSubgroup would: move its processes into a leaf, and divide the rest.
    if _is_delegated(own_dir, by_owner=False) and _move_into_leaf(own_dir):
        return own_dir
    return None


def _is_delegated(directory: Path, by_owner: bool = True) -> bool:
    needed = [directory / "cgroup.subtree_control", directory / "cgroup.procs", directory]
    if not all(os.access(path, os.W_OK) for path in needed):
        return False
    if by_owner and os.geteuid() != 0 and directory.stat().st_uid == os.geteuid():
        return True
    for name in _DELEGATE_XATTRS:
        with contextlib.suppress(OSError):
            if os.getxattr(directory, name).strip() in (b"1", b"yes", b"true"):
                return True
    return False


def _move_into_leaf(directory: Path) -> bool:
    """Every process of `directory` (the daemon, keepers an earlier daemon left) into `directory/c0re`."""
    leaf = directory / LEAF
    try:
        leaf.mkdir(exist_ok=True)
        for pid in (directory / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                (leaf / "cgroup.procs").write_text(pid)
    except OSError:
        return False
    return True


def _enable_controllers(parent: Path) -> list[str]:
    """Turn on in `parent`'s subtree_control each controller it has; return those that are on."""
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
    except OSError:
        return []
    for controller in CONTROLLERS:
        if controller in available and controller not in enabled:
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text(f"+{controller}")
                enabled.add(controller)
    return [controller for controller in CONTROLLERS if controller in enabled]


def _v1_dirs(proc: Path) -> dict[str, Path]:
    own = _own_paths(proc)
    found: dict[str, Path] = {}
    for mountpoint, options in _mounts(proc, "cgroup"):
        for controller in CONTROLLERS:
            if controller in options and controller in own and controller not in found:
                directory = mountpoint / own[controller].lstrip("/")
                if os.access(directory, os.W_OK) and os.access(directory / "cgroup.procs", os.W_OK):
                    found[controller] = directory
    return found


def _own_paths(proc: Path) -> dict[str, str]:
    """Controller -> our cgroup path in its hierarchy; "" is the v2 (unified) one."""
    paths: dict[str, str] = {}
    try:
        lines = (proc / "cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _mounts(proc: Path, fstype: str) -> list[tuple[Path, set[str]]]:
    """(mount point, super options) of each mount of `fstype`, from mountinfo."""
    found: list[tuple[Path, set[str]]] = []
    try:
        lines = (proc / "mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] == fstype:
            found.append((Path(_unescape(fields[4])), set(tail[2].split(","))))
    return found


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return field.encode().decode("unicode_escape") if "\\" in field else field
