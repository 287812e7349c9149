"""Waiting for hive-c0re to come back: a capped back-off, cut short the moment its socket is made again.

While the daemon is down the socket file stays (a stale socket, connect refused) or is gone; a new daemon
unlinks it, binds, listens, then chmods it. An inotify watch on the socket's directory sees the create and
the chmod (IN_ATTRIB, after listen), so a harness reconnects within a few milliseconds of the daemon being
able to answer, and the timer only matters if no event comes (a directory that cannot be watched).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from hyperhive.runtime._inotify import IN_CREATE, IN_MOVED_TO, Inotify

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.25
BACKOFF_MAX = 15.0
IN_ATTRIB = 0x4  # not among runtime._inotify's constants
_SOCKET_MADE = IN_CREATE | IN_MOVED_TO | IN_ATTRIB


class SocketWatch:
    """Sets `made` when a file named like `path` is created, moved in, or chmodded in its directory."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.made = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._inotify: Inotify | None = Inotify()
        try:
            self._inotify.watch(path.parent, _SOCKET_MADE)
        except OSError as exc:  # no directory (yet), or not ours to watch: the timer alone then
            log.info("cannot watch %s (%s); reconnecting on a timer", path.parent, exc)
            self._inotify.close()
            self._inotify = None
            return
        self._loop.add_reader(self._inotify.fd, self._read)

    def _read(self) -> None:
        assert self._inotify is not None
        if any(event.name == self.name for event in self._inotify.read()):
            self.made.set()

    def close(self) -> None:
        if self._inotify is not None:
            self._loop.remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None


class Reconnect:
    """The pauses between attempts to reach one socket. The first pause only opens the watch (so a socket
    made from then on cannot be missed) and returns at once; later ones wait for the socket to be made, or
    for the back-off, which doubles up to `cap` while nothing happens."""

    def __init__(self, path: Path, first: float = BACKOFF_FIRST, cap: float = BACKOFF_MAX) -> None:
        self.path = path
        self.first = first
        self.cap = cap
        self.delay = first
        self._watch: SocketWatch | None = None

    async def pause(self) -> None:
        if self._watch is None:
            self._watch = SocketWatch(self.path)
            return
        made = self._watch.made
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
