"""One node leads: it holds the `leader` lease and runs the hive-wide duties (retention today).

The lease lives in the store, timed by the store's clock (the database's on PostgreSQL), so every node
agrees when it runs out whatever its own clock says. The holder renews it on a timer a third of the way
through; a node whose renewal fails (the database unreachable, the link cut) stops its duties at once,
and the lease expires on the database, where another node's next renewal takes it over, with the epoch
one higher. With SQLite there is one node and it always leads. Each renewal is also the node's heartbeat
(core/nodes.py: a node that misses them for the lease's length is offline), and a clean stop says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from hyperhive.store import StoreError
from hyperhive.store.nodes import MailHolder, NodeStore

from .timers import DueTimers

log = logging.getLogger(__name__)

LEASE = "leader"
LEASE_SECONDS = 15.0  # a gone leader's duties move within this (plus one renewal period of the next node)


class Duty(Protocol):
    """Work one node of the hive does for all of them."""

    async def lead(self) -> None: ...

    async def follow(self) -> None: ...


class Leadership:
    def __init__(self, store: NodeStore, node: str, duties: Sequence[Duty], ttl: float = LEASE_SECONDS) -> None:
        self.store = store
        self.node = node
        self.duties = duties
        self.ttl = ttl
        self.leading = False
        self.epoch: int | None = None  # of the leader lease, while leading
        self.incarnation = 0  # this node's: one higher at each start
        self._timers: DueTimers[str] = DueTimers(self._renew, "leadership")

    async def start(self) -> None:
        self.incarnation = await self.store.node_beat(self.node, starting=True)
        # Mail in hand is leased to this incarnation, renewed by each beat (store/nodes.py: MailHolder).
        self.store.hold_mail(MailHolder(self.node, self.incarnation, self.ttl))
        await self._renew("renew")

    async def close(self) -> None:
        await self._timers.close()
        if self.leading:
            await self._change(False)
            try:
                await self.store.release_lease(LEASE, self.node)  # the next node need not wait out the lease
            except StoreError as exc:
                log.warning("could not give up the leader lease: %s", exc)
        try:
            await self.store.node_leave(self.node)  # the others show its agents node_offline at once
        except StoreError as exc:
            log.warning("could not record this node's clean stop: %s", exc)

    async def _renew(self, _key: str) -> None:
        try:
            await self.store.node_beat(self.node)
            lease = await self.store.claim_lease(LEASE, self.node, self.ttl)
        except StoreError as exc:  # cannot prove we still hold it: stop leading before it runs out
            log.warning("leader lease not renewed (%s): following until the store answers", exc)
            lease = None
        await self._change(lease is not None, lease.epoch if lease else None)
        self._timers.arm("renew", time.time() + self.ttl / 3)

    async def _change(self, leading: bool, epoch: int | None = None) -> None:
        if leading == self.leading:
            self.epoch = epoch if leading else None
            return
        self.leading, self.epoch = leading, epoch
        log.info("node %s %s", self.node, f"leads the hive (epoch {epoch})" if leading else "no longer leads")
        for duty in self.duties:
            try:
                await (duty.lead() if leading else duty.follow())
            except Exception:  # one duty's failure must not keep the others from starting or stopping
                log.exception("%s of %s failed", "lead" if leading else "follow", type(duty).__name__)
