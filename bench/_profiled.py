"""Runs `python -m MODULE ARGS…` (what follows this script's first argument, the profile's path) with a
profiler that SIGUSR2 starts and stops: a benchmark profiles the daemon for the phase it measures only.

yappi (CPU clock, every thread: the SQLite writer thread too) when it is installed, else cProfile (the
event loop's thread only). Neither is a dependency: `pip install yappi` into the venv for a profile run.
Each stop writes the phase's profile as pstats, to `PATH.1`, `PATH.2`, … in order."""

from __future__ import annotations

import runpy
import signal
import sys
from types import FrameType


class Toggle:
    def __init__(self, out: str) -> None:
        self.out = out
        self.running = False
        self.phases = 0
        try:
            import yappi  # type: ignore[import-not-found, import-untyped, unused-ignore]

            yappi.set_clock_type("cpu")
            self.yappi = yappi
        except ImportError:
            import cProfile

            self.yappi = None
            self.cprofile = cProfile.Profile()

    def flip(self, signum: int, frame: FrameType | None) -> None:
        if self.running:
            self.save()
        elif self.yappi is not None:
            self.yappi.start()
        else:
            self.cprofile.enable()
        self.running = not self.running

    def save(self) -> None:
        self.phases += 1
        path = f"{self.out}.{self.phases}"
        if self.yappi is not None:
            self.yappi.stop()
            self.yappi.get_func_stats().save(path, type="pstat")
            self.yappi.clear_stats()
        else:
            self.cprofile.disable()
            self.cprofile.dump_stats(path)
            self.cprofile = type(self.cprofile)()


def main() -> None:
    out, rest = sys.argv[1], sys.argv[2:]
    module_at = rest.index("-m")
    sys.argv = [rest[module_at + 1], *rest[module_at + 2:]]
    toggle = Toggle(out)
    signal.signal(signal.SIGUSR2, toggle.flip)
    try:
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    finally:
        if toggle.running:
            toggle.save()


if __name__ == "__main__":
    main()
