"""Storage of what keeps the database honest over months: retention (pruning by age), mail dropped with a
purged agent, and the durable per-turn stats."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from .records import PruneResult, TurnStatsRecord

Oldest = tuple[float | None, float | None, float | None]  # acked mail, event, turn stats


class MaintenanceStore(ABC):
    @abstractmethod
    async def drop_mail(self, recipient: str, at: float) -> list[int]:
        """Mark every unacked message to `recipient` dropped (and acked, so no inbox offers it); return their ids."""

    @abstractmethod
    async def prune_older(self, mail_before: float, events_before: float, keep_kind_prefixes: Sequence[str],
                          turn_stats_before: float) -> PruneResult:
        """Delete mail delivered and acked before `mail_before` (undelivered and dropped mail stays), events
        before `events_before` whose kind starts with none of `keep_kind_prefixes`, turn stats started before
        `turn_stats_before`; then give the freed pages back to the file system (incremental vacuum)."""

    @abstractmethod
    async def oldest_prunable(self, keep_kind_prefixes: Sequence[str]) -> Oldest:
        """When the oldest prunable row of each kind was made: (acked mail, event, turn stats); None: none."""

    @abstractmethod
    async def add_turn_stats(self, row: TurnStatsRecord) -> None: ...

    @abstractmethod
    async def turn_stats(self, agent: str, since: float) -> list[TurnStatsRecord]:
        """The agent's turns started at or after `since`, oldest first."""

    @abstractmethod
    async def turn_stats_summary(self, since: float) -> dict[str, tuple[TurnStatsRecord, float]]:
        """Per agent with any turn: its latest turn, and the cost of its turns started at or after `since`."""
