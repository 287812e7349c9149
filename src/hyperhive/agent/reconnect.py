"""Waiting for hive-c0re to come back: a capped back-off, cut short the moment its socket is made again.

While the daemon is down the socket file stays (a stale socket, connect refused) or is gone; a new daemon
unlinks it, binds, listens, then chmods it. An inotify watch on the socket's directory sees the create and
the chmod (IN_ATTRIB, after listen), so a harness reconnects within a few milliseconds of the daemon being
able to answer, and the timer only matters if no event comes (a directory that cannot be watched).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from ._watch import IN_ATTRIB, IN_CREATE, IN_MOVED_TO, FileWatch

BACKOFF_FIRST = 0.25
BACKOFF_MAX = 15.0
_SOCKET_MADE = IN_CREATE | IN_MOVED_TO | IN_ATTRIB


class Reconnect:
    """The pauses between attempts to reach one socket. The first pause only opens the watch (so a socket
    made from then on cannot be missed) and returns at once; later ones wait for the socket to be made, or
    for the back-off, which doubles up to `cap` while nothing happens."""

    def __init__(self, path: Path, first: float = BACKOFF_FIRST, cap: float = BACKOFF_MAX) -> None:
        self.path = path
        self.first = first
        self.cap = cap
        self.delay = first
        self._watch: FileWatch | None = None

    async def pause(self) -> None:
        if self._watch is None:
            self._watch = FileWatch(self.path.parent, {self.path.name}, _SOCKET_MADE)
            return
        made = self._watch.changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(made.wait(), self.delay)
        if made.is_set():
            made.clear()
            self.delay = self.first
        else:
            self.delay = min(self.delay * 2, self.cap)

    def done(self) -> None:
        """Reached: drop the watch and start the next outage from the first delay."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        self.delay = self.first
