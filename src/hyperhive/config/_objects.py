"""Copy a commit and everything it reaches from one local repo to another without a git transport.

`git fetch <path>` is not safe here: run in the proposed repo it reads the manager's `.git/config`, whose
`url.*.insteadOf` and `protocol.ext.allow` turn the fetch into any command the manager likes (run as
hive-c0re); run in the applied repo it starts upload-pack under that same config. Instead pack-objects
reads the source and `unpack-objects --strict` writes the destination, each a plain local command under the
settings of _git; --strict checks every object and that every link it holds resolves."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO

from ._git import TIMEOUT_SECONDS, git_command, git_env
from .errors import GitFailed, TooLarge

# A config repo holds a few text files; this is far above any honest one and keeps the daemon's disk and
# time bounded when a manager commits something huge.
MAX_COPY_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


def copy_history(source: Path, dest: Path, tip: str, where: str) -> None:
    """Copy commit `tip` (a full sha present in `source`) and its whole history into `dest`. Objects `dest`
    already has are skipped. Raises TooLarge or GitFailed; `where` names the source repo in errors."""
    with tempfile.TemporaryFile() as pack_err, tempfile.TemporaryFile() as unpack_err:
        packer = _start(source, ["pack-objects", "--revs", "--stdout", "-q"], subprocess.PIPE, pack_err)
        unpacker = _start(dest, ["unpack-objects", "-q", "--strict"], subprocess.DEVNULL, unpack_err)
        # The pump blocks on reads; the watchdog bounds the whole copy, and a killed copy fails below.
        watchdog = threading.Timer(TIMEOUT_SECONDS, _kill, (packer, unpacker))
        watchdog.start()
        try:
            total = _pump(packer, unpacker, tip)
        except BaseException:
            _kill(packer, unpacker)
            raise
        finally:
            watchdog.cancel()
            _reap(packer, unpacker)
        if total > MAX_COPY_BYTES:
            raise TooLarge(f"commit {tip[:12]} with its history is over {MAX_COPY_BYTES // 2**20} MiB in {where}")
        if packer.returncode != 0:
            raise GitFailed(f"git pack-objects failed in {where}: {_read(pack_err)}")
        if unpacker.returncode != 0:
            raise GitFailed(f"git unpack-objects refused the history of {tip[:12]} from {where}: {_read(unpack_err)}")


def _start(git_dir: Path, args: list[str], stdout: int, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(git_command(git_dir, args), stdin=subprocess.PIPE, stdout=stdout, stderr=stderr,
                                env=git_env(), cwd=git_dir)
    except FileNotFoundError:
        raise GitFailed("the git command is not installed") from None


def _pump(packer: subprocess.Popen[bytes], unpacker: subprocess.Popen[bytes], tip: str) -> int:
    """Feed `tip` to pack-objects and its pack to unpack-objects, counting bytes; stop past the limit."""
    assert packer.stdin and packer.stdout and unpacker.stdin
    packer.stdin.write(f"{tip}\n".encode())
    packer.stdin.close()
    total = 0
    try:
        while chunk := packer.stdout.read(_CHUNK):
            total += len(chunk)
            if total > MAX_COPY_BYTES:
                # unpack-objects never sees a whole pack, so nothing it wrote is reachable from any ref
                _kill(packer, unpacker)
                return total
            unpacker.stdin.write(chunk)
        unpacker.stdin.close()
    except BrokenPipeError:
        pass  # unpack-objects gave up early; its exit status and stderr say why
    return total


def _kill(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()


def _reap(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        try:
            proc.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):  # a pipe to a process that is gone: nothing to flush
                    stream.close()


def _read(stream: IO[bytes]) -> str:
    stream.seek(0)
    text = stream.read().decode("utf-8", "replace").strip()
    return text if len(text) <= 800 else "…" + text[-800:]
