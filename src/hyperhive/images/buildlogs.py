"""Following every build log that grows under `<image_dir>/logs/` while something runs (a direct spawn
whose image builds at the agent's start): inotify on the directory, no timer. Logs that were there
before are followed from their size then; a log truncated for a new build is read from its start."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from pathlib import Path

from hyperhive.runtime._inotify import IN_CREATE, IN_MODIFY, IN_MOVED_TO, IN_ONLYDIR, Inotify

LineSink = Callable[[str], None]


class BuildLogTail:
    """`with BuildLogTail(logs_dir, print_line):` prints the lines builds append meanwhile, from a thread;
    leaving the block prints what is left and stops."""

    def __init__(self, logs_dir: Path, emit: LineSink) -> None:
        self.dir = logs_dir
        self.emit = emit
        self._inotify = Inotify()
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC)
        self._read: dict[str, int] = {}  # log name → bytes already seen
        self._partial: dict[str, bytes] = {}
        self._thread = threading.Thread(target=self._run, name="build-log-tail", daemon=True)

    def __enter__(self) -> BuildLogTail:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._inotify.watch(self.dir, IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_ONLYDIR)  # before the sizes
            for log in self.dir.glob("*.log"):
                self._read[log.name] = log.stat().st_size
        except OSError:  # not ours to read: the spawn goes on, without its log printed
            return self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            os.write(self._stop_w, b"x")
            self._thread.join()
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        self._inotify.close()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._inotify.fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            names = {e.name for e in self._inotify.read() if e.name.endswith(".log")}
            for name in sorted(names):
                self._drain(name)
            if self._stop_r in ready:
                for name in sorted(self._read):  # what was written before the stop, not yet announced
                    self._drain(name)
                return

    def _drain(self, name: str) -> None:
        try:
            with (self.dir / name).open("rb") as log:
                size = os.fstat(log.fileno()).st_size
                seen = self._read.get(name, 0)
                if size < seen:  # truncated: a new build of that image
                    seen, self._partial[name] = 0, b""
                log.seek(seen)
                data = self._partial.get(name, b"") + log.read(size - seen)
        except FileNotFoundError:
            return
        self._read[name] = size
        cut = data.rfind(b"\n") + 1
        self._partial[name] = data[cut:]
        for line in data[:cut].decode(errors="replace").splitlines():
            self.emit(line)
