"""The broker: durable inboxes with push delivery.

`send` commits before it answers; `recv` returns at once when mail is pending and otherwise sleeps on an
event that `send` sets (no polling anywhere in the delivery path). Delivery is at-least-once: a message
stays pending until acked, and message ids make duplicates detectable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from hyperhive.protocol import (
    BROADCAST,
    MANAGER_ALIAS,
    MANAGER_NAME,
    MAX_BODY_BYTES,
    OPERATOR,
    ErrorCode,
    HiveError,
)
from hyperhive.protocol.names import is_agent_name
from hyperhive.store import MessageRecord, NewMessage, Store

from .inboxes import Inboxes, Lease, Waiter

MessagesListener = Callable[[list[MessageRecord]], Awaitable[None] | None]
AckListener = Callable[[str, list[int]], Awaitable[None] | None]


class Directory(Protocol):
    """Who can receive mail. The daemon's agent registry implements it."""

    def is_agent(self, name: str) -> bool: ...

    def agent_names(self) -> list[str]: ...


class RecipientPolicy(Protocol):
    def refusal(self, sender: str, recipient: str) -> str | None:
        """A sentence saying why `sender` may not write to `recipient`, or None when it may."""


class AllowAll:
    def refusal(self, sender: str, recipient: str) -> str | None:
        return None


class Broker:
    def __init__(self, store: Store, directory: Directory, policy: RecipientPolicy | None = None) -> None:
        self.store = store
        self.directory = directory
        self.policy: RecipientPolicy = policy or AllowAll()
        self.inboxes = Inboxes()
        self._message_listeners: list[MessagesListener] = []
        self._ack_listeners: list[AckListener] = []

    def on_messages(self, listener: MessagesListener) -> None:
        self._message_listeners.append(listener)

    def on_ack(self, listener: AckListener) -> None:
        self._ack_listeners.append(listener)

    # --- sending ----------------------------------------------------------------------------------
    async def send(
        self, sender: str, to: str, body: str, in_reply_to: int | None = None
    ) -> list[MessageRecord]:
        """Store one message per recipient and wake their readers. Durable when this returns."""
        return (await self.send_many(sender, [(to, body, in_reply_to)]))[0]

    async def send_many(
        self, sender: str, items: Sequence[tuple[str, str, int | None]]
    ) -> list[list[MessageRecord]]:
        """Several sends in one transaction; per item, the messages stored (one per recipient)."""
        planned: list[NewMessage] = []
        fanout: list[int] = []
        now = time.time()
        for to, body, in_reply_to in items:
            _check_body(body)
            recipients = self.resolve_recipients(sender, to)
            if in_reply_to is not None and await self.store.get_message(in_reply_to) is None:
                raise HiveError(ErrorCode.NOT_FOUND, f"in_reply_to names message {in_reply_to}, which does not exist")
            planned += [NewMessage(sender, r, body, now, in_reply_to, to == BROADCAST) for r in recipients]
            fanout.append(len(recipients))
        handoffs = self._claim_readers(planned, now) if self.store.hands_off else {}
        if handoffs:
            # Handed over from the insert's own completion (the loop turn that learns of the commit), so a
            # send cancelled meanwhile (the daemon stopping) still gives committed mail to its reader: stored
            # acked, it must not go unread.
            stored = await self.store.insert_messages_now(planned, lambda done: self._hand_over(handoffs, done))
        else:
            stored = await self.store.insert_messages(planned)
        acked = {r: [stored[i].id for i in indexes] for r, (waiter, indexes) in handoffs.items() if waiter.ack}
        for recipient in {m.recipient for m in stored}:
            self.inboxes.notify(recipient)
        await _emit(self._message_listeners, stored)
        for recipient, ids in acked.items():
            await _emit(self._ack_listeners, recipient, ids)
        grouped, start = [], 0
        for count in fanout:
            grouped.append(stored[start:start + count])
            start += count
        return grouped

    def _claim_readers(self, planned: list[NewMessage], now: float) -> dict[str, tuple[Waiter, list[int]]]:
        """Claim a blocked reader per recipient and mark the new messages it will get (up to its max) as
        delivered, or acked, in `planned` itself: the send's commit records the delivery too."""
        handoffs: dict[str, tuple[Waiter, list[int]]] = {}
        for recipient in dict.fromkeys(m.recipient for m in planned):
            waiter = self.inboxes.claim_waiter(recipient)
            if waiter is not None:
                handoffs[recipient] = (waiter, [])
        for index, message in enumerate(planned):
            if message.recipient not in handoffs:
                continue
            waiter, indexes = handoffs[message.recipient]
            if len(indexes) == waiter.max_count:
                waiter.left += 1
                continue
            indexes.append(index)
            # Made anew, not with dataclasses.replace: that one reads the fields' list in Python on every call.
            planned[index] = NewMessage(message.sender, message.recipient, message.body, message.sent_at,
                                        message.in_reply_to, message.broadcast, delivered_at=now,
                                        acked_at=now if waiter.ack else None)
        return handoffs

    def _hand_over(self, handoffs: dict[str, tuple[Waiter, list[int]]], stored: list[MessageRecord] | None) -> None:
        """Give claimed readers their committed messages; when the insert failed (None), they look again."""
        for waiter, indexes in handoffs.values():
            if stored is None:
                _resolve(waiter, None)  # nothing was stored: the reader looks again
                continue
            handed = [stored[i] for i in indexes]
            if not waiter.ack:
                waiter.lease.in_flight.update(m.id for m in handed)  # claimed before anyone else can look
            _resolve(waiter, handed)
        for recipient in handoffs:
            self.inboxes.notify(recipient)  # wakes the claimed readers even if the send itself was cancelled

    async def deliver(self, sender: str, recipients: Sequence[str], body: str) -> list[MessageRecord]:
        """Mail from the hive itself (`system` events, `self`, `reminder`, `schedule`): no recipient
        policy applies, and recipients are taken as given (the caller validated them)."""
        stored = await self.store.insert_messages([NewMessage(sender, r, body, time.time()) for r in recipients])
        await self.announce(stored)
        return stored

    async def announce(self, stored: Sequence[MessageRecord]) -> None:
        """Wake readers of messages another part stored in its own transaction (a due reminder, an answer)."""
        for recipient in {m.recipient for m in stored}:
            self.inboxes.notify(recipient)
        await _emit(self._message_listeners, list(stored))

    def resolve_recipients(self, sender: str, to: str) -> list[str]:
        if to == BROADCAST:
            refusal = self.policy.refusal(sender, BROADCAST)
            if refusal:
                raise HiveError(ErrorCode.NOT_ALLOWED, refusal)
            targets = [name for name in self.directory.agent_names() if name != sender]
            if not targets:
                raise HiveError(ErrorCode.NOT_FOUND, "a broadcast needs at least one other agent in the hive")
            return targets
        recipient = MANAGER_NAME if to == MANAGER_ALIAS else to
        if recipient == sender:  # a loop waiting to happen: each turn would wake the next
            raise HiveError(ErrorCode.BAD_REQUEST, f"{sender} cannot send to itself: use request_next_turn "
                                                   "or remind")
        if recipient != OPERATOR:
            if not is_agent_name(recipient):
                raise HiveError(
                    ErrorCode.INVALID_NAME,
                    f"cannot send to {to[:40]!r}: not an agent name, 'operator', 'manager' or '*'",
                )
            if not self.directory.is_agent(recipient):
                raise HiveError(ErrorCode.NOT_FOUND, f"no agent named {recipient!r} in this hive")
        refusal = self.policy.refusal(sender, recipient)
        if refusal:
            raise HiveError(ErrorCode.NOT_ALLOWED, refusal)
        return [recipient]

    # --- receiving --------------------------------------------------------------------------------
    def open_lease(self, recipient: str) -> Lease:
        return self.inboxes.open_lease(recipient)

    def close_lease(self, lease: Lease) -> None:
        self.inboxes.close_lease(lease)

    async def recv(
        self,
        lease: Lease,
        max_count: int,
        wait_seconds: float,
        ack: bool = False,
        held: Callable[[], bool] | None = None,
    ) -> tuple[list[MessageRecord], int]:
        """Up to `max_count` pending messages for the lease's owner, and how many more are pending.
        While `held()` is true (a paused agent) nothing is delivered; `notify` re-checks it."""
        recipient = lease.owner
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while True:
            arrived = self.inboxes.arrival(recipient)
            messages: list[MessageRecord] = []
            unacked = 0
            if held is None or not held():
                messages, unacked = await self.store.unacked_and_count(
                    recipient, max_count, exclude_ids=self.inboxes.in_flight(recipient)
                )
            # Another reader of the same inbox may have claimed some of these while we awaited the store.
            claimed = self.inboxes.in_flight(recipient)
            messages = [m for m in messages if m.id not in claimed]
            if messages:
                break
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return [], 0
            waiter = Waiter(lease, max_count, ack, held, arrived)
            self.inboxes.wait(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await arrived.wait()
            except TimeoutError:
                pass
            finally:
                self.inboxes.stop_waiting(waiter)
            if waiter.claim is not None:  # a send claimed this reader: its messages come committed
                # Settled before the wake-up, as a rule (the hand-over resolves it, then wakes the reader).
                handed = waiter.claim.result() if waiter.claim.done() else await asyncio.shield(waiter.claim)
                if handed:
                    return handed, waiter.left
            elif not arrived.is_set():
                return [], 0
        ids = [m.id for m in messages]
        lease.in_flight.update(ids)  # claimed before the next await, so no other reader takes them
        # What is left once these go: the count (read with them) less everything claimed, these included.
        pending = max(unacked - len(self.inboxes.in_flight(recipient)), 0)
        if ack:
            await self.ack(recipient, ids)
        else:
            await self.store.mark_delivered(ids, time.time())
        return messages, pending

    async def ack(self, recipient: str, ids: Sequence[int]) -> list[int]:
        acked = await self.store.ack_messages(recipient, ids, time.time())
        self.inboxes.settle(recipient, list(ids))
        if acked:
            await _emit(self._ack_listeners, recipient, acked)
        return acked

    async def pending_count(self, recipient: str) -> int:
        return max(await self.store.count_unacked(recipient) - len(self.inboxes.in_flight(recipient)), 0)


def _resolve(waiter: Waiter, handed: list[MessageRecord] | None) -> None:
    assert waiter.claim is not None
    if not waiter.claim.done():
        waiter.claim.set_result(handed)


def _check_body(body: str) -> None:
    if not body:
        raise HiveError(ErrorCode.BAD_REQUEST, "the message body is empty")
    size = len(body.encode())
    if size > MAX_BODY_BYTES:
        raise HiveError(ErrorCode.LIMIT, f"the message body is {size} bytes; the limit is {MAX_BODY_BYTES}")


async def _emit(listeners: Sequence[Callable[..., Awaitable[None] | None]], *args: object) -> None:
    for listener in listeners:
        result = listener(*args)
        if result is not None:
            await result
