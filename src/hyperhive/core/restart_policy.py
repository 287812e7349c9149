"""Whether and when an agent that ended on its own comes back: its `[restart]` policy and the restart
window (at most `max_restarts` within `window_seconds`, each after `delay_seconds`). The policy decides;
the supervisor does (timers, launches). circus's flapping plugin is the model: policy apart from mechanism.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from hyperhive.config import RestartConfig


class Verdict(Enum):
    RESTART = "restart"  # after `delay` seconds
    STAY_DOWN = "stay_down"  # the policy does not restart this kind of exit
    GIVE_UP = "give_up"  # the window is full: it is left failed


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0
    note: str = ""


class RestartPolicy:
    """The restarts of every agent within its window. `clock` is monotonic seconds (a test passes its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._restarts: dict[str, deque[float]] = defaultdict(deque)

    def decide(self, name: str, config: RestartConfig, *, clean: bool) -> Decision:
        """After `name` ended on its own (`clean`: exit status 0, no signal); a RESTART is counted."""
        if config.policy == "never" or (config.policy == "on-failure" and clean):
            return Decision(Verdict.STAY_DOWN)
        window = self._restarts[name]
        now = self._clock()
        while window and now - window[0] > config.window_seconds:
            window.popleft()
        if len(window) >= config.max_restarts:
            return Decision(Verdict.GIVE_UP,
                            note=f"{len(window)} restarts within {config.window_seconds:g} s; left failed")
        window.append(now)
        return Decision(Verdict.RESTART, delay=config.delay_seconds)

    def forget(self, name: str) -> None:
        """A deliberate restart (or a new agent of that name) starts the count afresh."""
        self._restarts.pop(name, None)
