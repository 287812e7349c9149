"""In-memory side of the inboxes: who waits for mail, and which messages are in flight on which lease.

Durable truth is the store (a message is pending until acked). This adds two things the store cannot:
waking a blocked `recv` the instant mail arrives (no poll), and not handing the same unacked message to
two readers at once. A lease is one reader (one connection); when it ends, its unacked messages go back
to the inbox and the next `recv` delivers them again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from itertools import count

from hyperhive.store import MessageRecord

_lease_ids = count(1)


class Lease:
    """Messages handed to one reader and not yet acked."""

    def __init__(self, owner: str) -> None:
        self.id = next(_lease_ids)
        self.owner = owner
        self.in_flight: set[int] = set()


class Waiter:
    """A `recv` blocked on an inbox it found empty. A send may claim it and hand it its new messages
    directly: stored delivered (or acked) in the send's own transaction, so the reader needs no store
    read and no commit of its own. `claim` resolves to those messages once committed, or None when the
    send failed (then the reader looks again)."""

    def __init__(self, lease: Lease, max_count: int, ack: bool, held: Callable[[], bool] | None,
                 arrived: asyncio.Event) -> None:
        self.lease = lease
        self.max_count = max_count
        self.ack = ack
        self.held = held
        self.arrived = arrived
        self.claim: asyncio.Future[list[MessageRecord] | None] | None = None
        self.left = 0  # messages of the claiming send for this reader beyond its max: still pending

    def takes_mail(self) -> bool:
        """Still asleep on an empty inbox: no arrival since its read, no other send's claim, not held."""
        return self.claim is None and not self.arrived.is_set() and not (self.held is not None and self.held())


class Inboxes:
    def __init__(self) -> None:
        self._arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._leases: dict[str, dict[int, Lease]] = defaultdict(dict)
        self._waiters: dict[str, list[Waiter]] = defaultdict(list)

    def wait(self, waiter: Waiter) -> None:
        """From now until `stop_waiting`, a send to the waiter's owner may claim it. (Two calls rather than a
        context manager: its exit would be three Python frames on the way to every handed-over answer.)"""
        self._waiters[waiter.lease.owner].append(waiter)

    def stop_waiting(self, waiter: Waiter) -> None:
        owner = waiter.lease.owner
        self._waiters[owner].remove(waiter)
        if not self._waiters[owner]:
            del self._waiters[owner]

    def readers_waiting(self, recipient: str) -> int:
        return len(self._waiters.get(recipient, ()))

    def claim_waiter(self, recipient: str) -> Waiter | None:
        """The first reader of `recipient` that takes mail now, claimed for one send (None: none does)."""
        alone = len(self._leases.get(recipient, {})) == 1
        for waiter in self._waiters.get(recipient, ()):
            # Unacked mail handed to one reader is claimed only once the send resumes; another reader of
            # the same inbox could read it first. Acked mail is safe from that once committed.
            if waiter.takes_mail() and (waiter.ack or alone):
                waiter.claim = asyncio.get_running_loop().create_future()
                return waiter
        return None

    def arrival(self, recipient: str) -> asyncio.Event:
        """The event the next arrival for `recipient` sets. Take it *before* checking the store, so a
        message committed between the check and the wait still wakes the waiter."""
        return self._arrived[recipient]

    def notify(self, recipient: str) -> None:
        arrived = self._arrived.pop(recipient, None)  # no event: nobody looked since the last arrival
        if arrived is not None:
            arrived.set()

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
