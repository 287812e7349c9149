"""Named crash points for the kill -9 tests: with `HYPERHIVE_CRASH_AT=<step>` in its environment, the
process SIGKILLs itself when it reaches that step, so a test can stop the daemon at exactly the moment it
means (no timed kill). Unset, a crash point is one dict lookup."""

from __future__ import annotations

import os
import signal

CRASH_AT = "HYPERHIVE_CRASH_AT"


def crash_point(step: str) -> None:
    if os.environ.get(CRASH_AT) == step:
        os.kill(os.getpid(), signal.SIGKILL)
