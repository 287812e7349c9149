"""Metered API calls: the store's side of the gateway's meter (one row per call, kept 400 days)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from hyperhive.protocol import replies

UsageGrouping = Literal["agent", "model", "day"]


@dataclass(frozen=True)
class UsageRecord:
    """One call. `turn` is the id of the message in hand when the call was made (None between turns);
    `priced` is False when the price table does not know the model (cost 0)."""

    at: float
    agent: str
    turn: int | None
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    priced: bool

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


# Totals are kept as the wire carries them: one model for both.
UsageTotal = replies.UsageTotal


class UsageStore(ABC):
    @abstractmethod
    async def add_usage(self, records: list[UsageRecord]) -> None: ...

    @abstractmethod
    async def usage_totals(self, by: UsageGrouping, since: float, agent: str | None = None,
                           turn: int | None = None) -> list[UsageTotal]:
        """Totals of the calls at or after `since`, grouped, largest cost first (days: oldest first)."""

    @abstractmethod
    async def prune_usage(self, before: float) -> int: ...
