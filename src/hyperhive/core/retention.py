"""Retention: delivered and acked mail and non-audit events older than `retention_days` are deleted, and
per-turn stats after `TURN_STATS_DAYS`; approvals and questions (their own tables) and audit events are
kept, and so is mail nobody has read yet.

No polling: after each run one timer is armed for the moment the oldest remaining prunable row comes of
age (never sooner than `MIN_GAP_SECONDS`, so a steady trickle is pruned in batches). The deletes and an
incremental vacuum (the database gives the freed pages back) share one write transaction."""

from __future__ import annotations

import logging
import time

from hyperhive.config.settings import HiveSettings
from hyperhive.store import Store

from .events import EventLog
from .timers import DueTimers

log = logging.getLogger(__name__)

DAY = 24 * 3600.0
TURN_STATS_DAYS = 90.0
MIN_GAP_SECONDS = 3600.0
# Events kept for good: the audit trail of decisions and of what was made, removed or lost.
AUDIT_EVENT_PREFIXES = ("approval_", "question_", "schedule_", "config_", "spawned", "deployed", "rebuilt",
                        "destroyed", "purged", "mail_dropped", "parent_set", "retention")
_KEY = "prune"


class Retention:
    def __init__(self, settings: HiveSettings, store: Store, events: EventLog) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self._timers: DueTimers[str] = DueTimers(self._run, "retention")

    @property
    def keep_seconds(self) -> float:
        return self.settings.retention_days * DAY

    async def start(self) -> None:
        """What came of age while the daemon was down is pruned now."""
        self._timers.arm(_KEY, time.time())

    async def close(self) -> None:
        await self._timers.close()

    # --- a hive-wide duty: only the leading node prunes (core/leadership.py) -------------------------
    async def lead(self) -> None:
        await self.start()

    async def follow(self) -> None:
        self._timers.disarm(_KEY)

    async def _run(self, _key: str) -> None:
        now = time.time()
        cutoff = now - self.keep_seconds
        result = await self.store.prune_older(cutoff, cutoff, AUDIT_EVENT_PREFIXES, now - TURN_STATS_DAYS * DAY)
        if result.messages or result.events or result.turn_stats:
            log.info("retention: pruned %d messages, %d events, %d turn stats", result.messages, result.events,
                     result.turn_stats)
            await self.events.append("retention", None, {
                "messages": result.messages, "events": result.events, "turn_stats": result.turn_stats,
                "retention_days": self.settings.retention_days})
        self._timers.arm(_KEY, await self.next_due(now))

    async def next_due(self, now: float) -> float:
        mail, event, turn = await self.store.oldest_prunable(AUDIT_EVENT_PREFIXES)
        dues = [at + self.keep_seconds for at in (mail, event) if at is not None]
        if turn is not None:
            dues.append(turn + TURN_STATS_DAYS * DAY)
        # With nothing to prune, whatever is written from now on comes of age a full period later at the soonest.
        due = min(dues) if dues else now + self.keep_seconds
        return max(due, now + MIN_GAP_SECONDS)
