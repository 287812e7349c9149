"""In-memory side of the inboxes: who waits for mail, and which messages are in flight on which lease.

Durable truth is the store (a message is pending until acked). This adds two things the store cannot:
waking a blocked `recv` the instant mail arrives (no poll), and not handing the same unacked message to
two readers at once. A lease is one reader (one connection); when it ends, its unacked messages go back
to the inbox and the next `recv` delivers them again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from itertools import count

_lease_ids = count(1)


class Lease:
    """Messages handed to one reader and not yet acked."""

    def __init__(self, owner: str) -> None:
        self.id = next(_lease_ids)
        self.owner = owner
        self.in_flight: set[int] = set()


class Inboxes:
    def __init__(self) -> None:
        self._arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._leases: dict[str, dict[int, Lease]] = defaultdict(dict)

    def arrival(self, recipient: str) -> asyncio.Event:
        """The event the next arrival for `recipient` sets. Take it *before* checking the store, so a
        message committed between the check and the wait still wakes the waiter."""
        return self._arrived[recipient]

    def notify(self, recipient: str) -> None:
        self._arrived.pop(recipient, asyncio.Event()).set()

    def notify_all(self) -> None:
        """Wake every waiting reader to look again (after a store reconnect, when mail may have come untold)."""
        arrived, self._arrived = self._arrived, defaultdict(asyncio.Event)
        for event in arrived.values():
            event.set()

    def open_lease(self, owner: str) -> Lease:
        lease = Lease(owner)
        self._leases[owner][lease.id] = lease
        return lease

    def close_lease(self, lease: Lease) -> bool:
        """End a reader; return True if it held unacked messages (they are pending again)."""
        self._leases[lease.owner].pop(lease.id, None)
        if not self._leases[lease.owner]:
            del self._leases[lease.owner]
        held = bool(lease.in_flight)
        lease.in_flight.clear()
        if held:
            self.notify(lease.owner)
        return held

    def in_flight(self, recipient: str) -> set[int]:
        held: set[int] = set()
        for lease in self._leases.get(recipient, {}).values():
            held |= lease.in_flight
        return held

    def settle(self, recipient: str, ids: list[int]) -> None:
        """Acked messages leave every lease of the recipient."""
        done = set(ids)
        for lease in self._leases.get(recipient, {}).values():
            lease.in_flight -= done
