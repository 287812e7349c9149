"""The harness log: the sandbox's stdout and stderr in one file, rotated by size (`harness.log.1` is the
newest rotated file, `.2` older, …), as `core.logs.tail_lines` reads it. The keeper writes it; nothing in
the sandbox can reach it."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_BACKUPS = 3


class RotatingLog:
    """Append-only writer that rotates before a write would take the file past `max_bytes`, cutting at a
    line end, so a line is split across two files only when it is longer than a whole file."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = path
        self.max_bytes = max(1, max_bytes)
        self.backups = max(0, backups)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        self.at_line_start = True  # the last byte written ends a line (or nothing was written yet)

    def write(self, data: bytes) -> None:
        while self._size + len(data) > self.max_bytes:
            room = self.max_bytes - self._size
            cut = data.rfind(b"\n", 0, room) + 1
            if cut == 0 and self._size == 0:  # a line longer than a whole file: split it
                cut = room
            self._append(data[:cut])
            self._rotate()
            data = data[cut:]
        self._append(data)

    def close(self) -> None:
        os.close(self._fd)

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            if written:
                self.at_line_start = view[written - 1] == ord("\n")
            view = view[written:]
            self._size += written

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.backups == 0:
            os.unlink(self.path)
        else:
            for index in range(self.backups - 1, 0, -1):
                older = self._numbered(index)
                if older.exists():
                    os.replace(older, self._numbered(index + 1))
            os.replace(self.path, self._numbered(1))
        self._fd = self._open()
        self._size = 0

    def _numbered(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines across the rotated files, oldest first."""
    if count <= 0:
        return []
    last: deque[str] = deque(maxlen=count)
    for file in [*rotated_files(path), path]:
        if file.is_file():
            with file.open(errors="replace") as handle:
                last.extend(line.rstrip("\n") for line in handle)
    return list(last)


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the log at `path`, oldest first (`harness.log.3`, `.2`, `.1`)."""
    rotated = [file for file in path.parent.glob(path.name + ".*") if _rotation_index(file) > 0]
    return sorted(rotated, key=_rotation_index, reverse=True)


def _rotation_index(path: Path) -> int:
    suffix = path.name.rsplit(".", 1)[-1]
    if path.suffix == ".log":
        return 0
    return int(suffix) if suffix.isdigit() else -1
