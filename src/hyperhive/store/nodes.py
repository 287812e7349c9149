"""Storage of the hive's nodes (heartbeats) and of leases on hive-wide duties. Time is the store's own
clock (the database's on PostgreSQL), so nodes whose clocks disagree still agree on who holds a lease."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeRecord:
    name: str
    started_at: float
    seen_at: float
    age: float  # seconds since its last heartbeat, by the store's clock


@dataclass(frozen=True)
class LeaseRecord:
    name: str
    holder: str
    epoch: int  # grows by one each time the lease changes hands
    expires_at: float


class NodeStore(ABC):
    @abstractmethod
    async def node_beat(self, node: str, starting: bool = False) -> None:
        """Record that `node` is alive now (`starting`: and that it (re)started now)."""

    @abstractmethod
    async def list_nodes(self) -> list[NodeRecord]: ...

    @abstractmethod
    async def claim_lease(self, name: str, holder: str, ttl: float) -> LeaseRecord | None:
        """Take the lease for `ttl` seconds if it is free, expired, or already `holder`'s (a renewal keeps the
        epoch; a takeover adds one); None when another holder's lease is still running."""

    @abstractmethod
    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean shutdown), if `holder` holds it."""
