"""Following a harness log as it grows, across its rotations (as `tail -F` does), woken by inotify on the
log's directory, never by a timer.

Rotation (see logfile.py) renames `harness.log` to `harness.log.1` and starts a new `harness.log`; the
follower keeps reading the renamed file through its open descriptor until it has drained it, then moves to
the new one. Blocking use: `for chunk in follower.follow()`. In an event loop: `loop.add_reader(
follower.fileno(), ...)`, then `take_events()` and `read()`.
"""

from __future__ import annotations

import contextlib
import os
import select
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ._inotify import (
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    Inotify,
)
from .logfile import rotated_files

_WATCH = IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
_DIR_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED


class LogFollower:
    """Reads what is appended to `path` from the moment it was made. Raises OSError if the log's directory
    cannot be watched (it does not exist, or is not ours to read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.gone = False  # the log's directory was removed (the agent purged) or moved
        self._inotify = Inotify()
        try:
            self._inotify.watch(path.parent, _WATCH)  # before opening: no write can fall between the two
            self._file = self._open()
        except OSError:
            self._inotify.close()
            raise
        self._start = self._file.seek(0, os.SEEK_END) if self._file else 0

    def fileno(self) -> int:
        """Readable when the log's directory changed: then call take_events() and read()."""
        return self._inotify.fd

    def tail(self, count: int) -> list[str]:
        """The last `count` lines written before following began (rotated files, then the current one)."""
        last: deque[str] = deque(maxlen=max(count, 0))
        if count <= 0:
            return []
        for file in rotated_files(self.path):
            with contextlib.suppress(OSError), file.open("rb") as handle:
                last.extend(_lines(handle.read()))
        if self._file is not None:
            last.extend(_lines(os.pread(self._file.fileno(), self._start, 0)))
        return list(last)

    def read(self) -> bytes:
        """What was appended since the last read, across a rotation."""
        chunks = [self._drain()]
        if self._file is not None and os.fstat(self._file.fileno()).st_nlink == 0:
            # Unlinked (a purge, or a rotation that keeps no backups): drop it, or its open dentry would hold
            # back the directory's removal event.
            self._file.close()
            self._file = None
        if self._replaced():
            new = self._open()
            if new is not None:
                if self._file is not None:
                    self._file.close()
                self._file = new
                chunks.append(self._drain())
        return b"".join(chunks)

    def take_events(self) -> bool:
        """Empty the inotify queue; False once the log's directory is gone."""
        for event in self._inotify.read():
            if event.mask & _DIR_GONE:
                self.gone = True
        return not self.gone

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the log's directory changes (or `timeout`); False once the directory is gone."""
        poller = select.poll()
        poller.register(self._inotify.fd, select.POLLIN)
        if poller.poll(None if timeout is None else int(timeout * 1000)):
            return self.take_events()
        return not self.gone

    def follow(self) -> Iterator[bytes]:
        """Chunks as they are appended, until the log's directory is removed."""
        while True:
            data = self.read()
            if data:
                yield data
            if not self.wait():
                rest = self.read()
                if rest:
                    yield rest
                return

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._inotify.close()

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> BinaryIO | None:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            return None

    def _drain(self) -> bytes:
        return self._file.read() if self._file is not None else b""

    def _replaced(self) -> bool:
        """The path names another file than ours now (rotated), or a file where there was none."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return False
        if self._file is None:
            return True
        ours = os.fstat(self._file.fileno())
        return (now.st_dev, now.st_ino) != (ours.st_dev, ours.st_ino)


def _lines(data: bytes) -> list[str]:
    return data.decode(errors="replace").splitlines()
