"""Builds an image with mmdebstrap in its `unshare` mode: every maintainer script runs inside a user
namespace of its own (root there, nobody on the host), so no package can touch the host. The tree is
built aside and renamed into place; a package-set image then hard-links every file it has in common with
its base, so its disk cost is about its own packages. See docs/images.md and docs/decisions.md."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import filecmp
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from hyperhive.runtime._proc import die_with_parent

from .inputs import ImageInputs
from .store import ImageInfo, ImageStore

LineSink = Callable[[str], None]
MMDEBSTRAP = "mmdebstrap"
# Mount points the sandbox binds host files onto (bwrap cannot create them in a read-only image).
MOUNT_POINTS = ("etc/hosts", "etc/resolv.conf")
# No sandbox logs in: the password files go (a capability-less root inside could still read its own).
DROPPED = ("etc/shadow", "etc/shadow-", "etc/gshadow", "etc/gshadow-")


class ImageBuildError(Exception):
    """A build failed; the message is apt's (or mmdebstrap's) own sentence."""


def mmdebstrap_argv(inputs: ImageInputs, target: Path, cache: Path) -> list[str]:
    exe = shutil.which(MMDEBSTRAP)
    if exe is None:
        raise ImageBuildError("mmdebstrap is not installed: run scripts/setup (apt-get install mmdebstrap)")
    args = [exe, "--mode=unshare", "--variant=minbase", "--format=directory"]
    if inputs.packages:
        args.append("--include=" + ",".join(inputs.packages))
    # The .deb cache shared by builds (mmdebstrap's documented recipe): copied in, new ones copied out.
    args += ["--skip=download/empty", "--skip=essential/unlink",
             "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
             f"--setup-hook=sync-in {cache} /var/cache/apt/archives/",
             f"--customize-hook=sync-out /var/cache/apt/archives {cache}"]
    return [*args, inputs.suite, str(target), inputs.mirror]


async def build_image(store: ImageStore, inputs: ImageInputs, *, on_line: LineSink | None = None) -> ImageInfo:
    """The complete image for `inputs`, built now unless it exists. Raises ImageBuildError."""
    image_id = inputs.image_id
    done = store.get(image_id)
    if done is not None:
        return done
    store.make_dirs()
    with _locked(store.lock_path(image_id)) as lock_fd:
        await asyncio.to_thread(fcntl.flock, lock_fd, fcntl.LOCK_EX)
        done = store.get(image_id)  # built by someone else while we waited
        if done is not None:
            return done
        store.clear_leftovers(image_id)
        aside = store.aside(image_id)
        try:
            await _run_mmdebstrap(store, inputs, aside / "root", lock_fd, on_line)
            base = store.get(inputs.base) if inputs.base else None
            own = await asyncio.to_thread(_finish_tree, aside / "root", base.root if base else None)
            return await asyncio.to_thread(store.publish, aside, inputs, own)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)  # closing drops our flock


async def _run_mmdebstrap(store: ImageStore, inputs: ImageInputs, target: Path, lock_fd: int,
                          on_line: LineSink | None) -> None:
    argv = mmdebstrap_argv(inputs, target, store.apt_cache)
    target.parent.mkdir(parents=True)
    log_path = store.log_path(inputs.image_id)
    errors: list[str] = []
    with _locked(store.root / "locks" / "apt-cache.lock") as cache_fd, open(log_path, "w", buffering=1) as log:
        await asyncio.to_thread(fcntl.flock, cache_fd, fcntl.LOCK_EX)
        # The locks go to mmdebstrap too: if we die, they stay held until it has died as well (it gets
        # SIGKILL with us), so a retry never races a leftover build.
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, pass_fds=(lock_fd, cache_fd), preexec_fn=die_with_parent,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp"})
        assert proc.stdout is not None
        try:
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                log.write(line + "\n")
                if line.startswith("E: "):
                    errors.append(line[3:])
                if on_line is not None:
                    on_line(line)
            code = await proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
    if code != 0:
        raise ImageBuildError(apt_sentence(errors) or f"mmdebstrap exited with code {code}; see {log_path}")


def apt_sentence(errors: list[str]) -> str | None:
    """apt's own first complaint ("Unable to locate package foo"), not mmdebstrap's wrappers around it."""
    own = [e for e in errors if not e.startswith(("setup failed", "mmdebstrap failed", "run_setup"))]
    return (own or errors)[0] if errors else None


def _finish_tree(root: Path, base: Path | None) -> int:
    for rel in DROPPED:
        (root / rel).unlink(missing_ok=True)
    for rel in MOUNT_POINTS:
        point = root / rel
        if not point.exists() and not point.is_symlink():
            point.touch(mode=0o644)
    return share_with_base(root, base) if base is not None else tree_bytes(root)


def tree_bytes(root: Path) -> int:
    seen: set[int] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def share_with_base(root: Path, base: Path) -> int:
    """Replace every regular file that the base has identically (content, mode, owner) by a hard link to
    the base's; return the bytes left that are the image's own."""
    own = 0
    for dirpath, _dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not _is_plain(st.st_mode):
                continue
            twin = os.path.join(base, rel_dir, name)
            if _same_file(path, st, twin):
                tmp = path + ".hh-link"
                os.link(twin, tmp)
                os.replace(tmp, path)
            else:
                own += st.st_blocks * 512
    return own


def _is_plain(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _same_file(path: str, st: os.stat_result, twin: str) -> bool:
    try:
        other = os.lstat(twin)
    except OSError:
        return False
    if not _is_plain(other.st_mode) or (st.st_size, st.st_mode, st.st_uid, st.st_gid) != (
            other.st_size, other.st_mode, other.st_uid, other.st_gid) or st.st_dev != other.st_dev:
        return False
    return filecmp.cmp(path, twin, shallow=False)
