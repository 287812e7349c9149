"""inotify through ctypes (the standard library has no binding): a kernel queue of file system events, one
descriptor to poll or hand to an event loop. Linux only."""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of NUL-padded name


@dataclass(frozen=True)
class Event:
    wd: int
    mask: int
    name: str


class Inotify:
    """One inotify instance. `fd` is non-blocking: poll it (or `loop.add_reader`), then `read()`."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._check(self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC), "inotify_init1")

    def watch(self, path: Path, mask: int) -> int:
        return self._check(self._libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask)),
                           f"inotify_add_watch({path})")

    def read(self) -> list[Event]:
        """The events queued now (none if the queue is empty)."""
        try:
            data = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return []
        return list(_parse(data))

    def close(self) -> None:
        os.close(self.fd)

    @staticmethod
    def _check(result: int, what: str) -> int:
        if result < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"{what}: {os.strerror(error)}")
        return result


def _parse(data: bytes) -> Iterator[Event]:
    offset = 0
    while offset + _HEADER.size <= len(data):
        wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        name = data[start:start + length].rstrip(b"\0")
        yield Event(wd, mask, os.fsdecode(name))
        offset = start + length
