"""What one agent can make the hive say. Some of an agent's reports become `system` mail to hm1nd and the
operator (a parked message); such mail carries the agent's words marked as its own (`agent_words`), and
each agent has a budget of them (`SpeechLimit`: a burst, then one per interval), so a hostile agent can
neither speak as the hive nor flood the people in charge."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

AGENT_WORDS_MAX = 2000


def agent_words(agent: str, text: str, limit: int = AGENT_WORDS_MAX) -> dict[str, str]:
    """An agent's text inside a system event: quoted, clipped and attributed, never the hive's own words."""
    clipped = text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"
    return {"quoted_from_agent": agent, "text": clipped}


@dataclass
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


@dataclass
class SpeechLimit:
    """A token bucket per agent: `burst` notifications at once, then one per `interval` seconds."""

    burst: int = 10
    interval: float = 6.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def allow(self, agent: str) -> bool:
        now = self.clock()
        bucket = self._buckets.setdefault(agent, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) / self.interval)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True
        if not bucket.warned:  # one line per silenced stretch, not one per dropped notification
            log.warning("%s makes the hive say too much (over %d notifications, then one per %g s): dropping "
                        "its notifications until it slows down", agent, self.burst, self.interval)
            bucket.warned = True
        return False
