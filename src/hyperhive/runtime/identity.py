"""Each agent under a uid of its own on the host (when the daemon is root): a kernel bug or a mis-bound path
inside a sandbox then hands out an unprivileged user, never root.

The uid is derived from the agent's name (`agent_uid`), so every part of the daemon agrees on it without a
table: the runtime hands the agent's home and its read-write mounts to it, the agent sockets are made
reachable by its group. The range (AGENT_UID_BASE, 2^24 wide) lies far above the uids of real users and of
the usual subordinate ranges; two names share a uid with a chance of about n²/2^25 (n agents), and even
then neither sandbox can see the other's files or processes (each has its own mount and pid namespace).

Staging: an unprivileged bwrap resolves its bind sources with the agent's own permissions, and the hive's
state and runtime dirs are root-only (0700). So, between fork and exec of bwrap, still as root, the keeper
enters a mount namespace of its own, bind-mounts every source into a fresh tmpfs and moves that tmpfs onto
/tmp (STAGE); bwrap then binds `/tmp/<i>`. Only the sandbox's bwrap sees that /tmp. Then it drops to the
agent's uid and gid, with no supplementary groups."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

AGENT_UID_BASE = 0x50000000  # 1342177280
AGENT_UID_RANGE = 1 << 24
STAGE = "/tmp"
STAGED_BWRAP = f"{STAGE}/bwrap"  # bwrap itself, staged too: its own path may be out of the agent's reach

_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_MOVE, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 8192, 4096, 16384, 1 << 18


def agent_uid(name: str) -> int:
    """The agent's host uid (and gid: the same number)."""
    digest = hashlib.sha256(name.encode()).digest()
    return AGENT_UID_BASE + int.from_bytes(digest[:8], "big") % AGENT_UID_RANGE


def drops_root() -> bool:
    """Agents get their own uid only where the daemon can give it: when it is root."""
    return os.geteuid() == 0


def hand_over(path: Path, uid: int, gid: int) -> None:
    """Make `path` and everything under it the agent's (entries already its own are left alone). Walked by
    directory fds (os.fwalk), never following a symlink: a tree the agent can change while we walk it cannot
    lead the chown out of it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    _own(info, str(path), uid, gid, None)
    if not stat.S_ISDIR(info.st_mode):
        return
    for _, dirs, files, dir_fd in os.fwalk(path, follow_symlinks=False):
        for entry in (*dirs, *files):
            with contextlib.suppress(FileNotFoundError):
                _own(os.lstat(entry, dir_fd=dir_fd), entry, uid, gid, dir_fd)


def _own(info: os.stat_result, path: str, uid: int, gid: int, dir_fd: int | None) -> None:
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def share_socket(path: Path, name: str) -> None:
    """Let the agent's group connect to its own socket (connecting needs write permission on it)."""
    if drops_root() and path.exists():
        os.chown(path, -1, agent_uid(name))
        os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | stat.S_IRGRP | stat.S_IWGRP)


def enter_identity(uid: int, gid: int, sources: Sequence[str], scratch: str, bwrap: str) -> None:
    """In the sandbox's first process, between fork and exec of bwrap: stage `sources` at /tmp/<i> and the
    `bwrap` binary at STAGED_BWRAP (see the module doc; `scratch` is an empty root-only dir to build the
    stage in), then become uid/gid. The caller executes STAGED_BWRAP."""
    _libc_call("unshare", _CLONE_NEWNS)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing of this leaks to the host
    _mount("tmpfs", scratch, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755")
    for index, source in enumerate(sources):
        target = os.path.join(scratch, str(index))
        try:
            mode = os.stat(source).st_mode
        except FileNotFoundError:
            continue  # bwrap then says it cannot find the source (as /tmp/<i>), as it would have without us
        if stat.S_ISDIR(mode):
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(source, target, None, _MS_BIND | _MS_REC)
    staged_bwrap = os.path.join(scratch, os.path.basename(STAGED_BWRAP))
    os.close(os.open(staged_bwrap, os.O_CREAT | os.O_WRONLY, 0o755))
    _mount(bwrap, staged_bwrap, None, _MS_BIND)
    _mount(scratch, STAGE, None, _MS_MOVE)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _libc_call("mount", *(None if v is None else v.encode() for v in (source, target, fstype)),
               ctypes.c_ulong(flags), None if data is None else data.encode(), what=f"mount {target}")


def _libc_call(function: str, *args: object, what: str | None = None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, function)(*args) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what or function}: {os.strerror(error)}")
