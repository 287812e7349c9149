"""The test process as init: the subreaper of what it starts. A keeper whose daemon was killed is
re-parented here, and the Runtime that adopts it reaps it (pid 1 of some CI sandboxes, this one included,
reaps nothing, so orphans would stay zombies). Zombies left at the end, whoever made them, are reaped."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from hyperhive.runtime import _proc


@contextlib.contextmanager
def acting_as_init() -> Iterator[None]:
    _proc.set_child_subreaper()
    try:
        yield
    finally:
        _proc.unset_child_subreaper()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
