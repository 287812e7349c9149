"""Waking on a file being written or made, in an event loop: inotify on its directory (the file itself may
not exist yet, or be replaced by a rename)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from pathlib import Path

from hyperhive.runtime._inotify import IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_TO, Inotify

log = logging.getLogger(__name__)

IN_ATTRIB = 0x4  # not among runtime._inotify's constants
__all__ = ["IN_ATTRIB", "IN_CLOSE_WRITE", "IN_CREATE", "IN_MOVED_TO", "FileWatch"]


class FileWatch:
    """Sets `changed` when one of `names` in `directory` sees an event of `mask`. A directory that cannot
    be watched (missing, not ours) is logged and never sets it: callers keep a timer as well."""

    def __init__(self, directory: Path, names: Collection[str], mask: int) -> None:
        self.names = frozenset(names)
        self.changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._inotify: Inotify | None = Inotify()
        try:
            self._inotify.watch(directory, mask)
        except OSError as exc:
            log.info("cannot watch %s (%s); waiting on a timer", directory, exc)
            self._inotify.close()
            self._inotify = None
            return
        self._loop.add_reader(self._inotify.fd, self._read)

    def _read(self) -> None:
        assert self._inotify is not None
        if any(event.name in self.names for event in self._inotify.read()):
            self.changed.set()

    def close(self) -> None:
        if self._inotify is not None:
            self._loop.remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
