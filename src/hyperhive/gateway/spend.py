"""The meter and the budgets: every call's usage priced, counted against the agent's and the hive's
budgets, and stored; a spent budget refuses the agent's next call until its window resets or its limit is
raised. Collaborators come in as callables, so this knows nothing of the daemon around it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hyperhive.store.usage import UsageRecord, UsageStore
from hyperhive.tasks import Tasks

from .budgets import HIVE, Exhausted, Ledger, Limits, day_end, day_start, first_exhausted, month_start
from .clock import Cancel, Clock
from .prices import price_table
from .usage import Usage

log = logging.getLogger(__name__)
KEEP_SECONDS = 400 * 86400  # usage rows are kept 400 days


@dataclass
class TurnSpend:
    """What the turn in hand has used so far."""

    turn: int
    calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class SpendHooks:
    """What the daemon provides: each agent's `[budget]`, the hive's ceilings, and whom to tell."""

    agent_limits: Callable[[str], Awaitable[Limits]]
    hive_limits: Callable[[], Limits]
    exhausted: Callable[[str, Exhausted], Awaitable[None]]
    restored: Callable[[str], Awaitable[None]]
    metered: Callable[[str], None]  # a call was counted: the agent's row (turn cost) changed


class Spend:
    def __init__(self, store: UsageStore, clock: Clock, hooks: SpendHooks) -> None:
        self.store = store
        self.clock = clock
        self.hooks = hooks
        self.ledger = Ledger()
        self._flags: dict[str, Exhausted] = {}
        self._timers: dict[str, Cancel] = {}
        self._turns: dict[str, TurnSpend] = {}
        self._writes = Tasks(log, "spend")
        self._prune_timer: Cancel | None = None

    async def load(self) -> None:
        """The current day's and month's totals from the store, and the old rows pruned."""
        now = self.clock.now()
        await self.store.prune_usage(now - KEEP_SECONDS)
        for since, daily in ((month_start(now), False), (day_start(now), True)):
            for total in await self.store.usage_totals("agent", since):
                for scope in (total.key, HIVE):
                    spent = self.ledger.spent(scope, now)
                    (spent.day if daily else spent.month).add(total.tokens, total.cost_usd)
        self._schedule_prune()

    async def close(self) -> None:
        for timer in [*self._timers.values(), *filter(None, [self._prune_timer])]:
            timer.cancel()
        self._timers.clear()
        await self._writes.settle()

    # --- before a call ----------------------------------------------------------------------------
    async def refusal(self, agent: str) -> Exhausted | None:
        """Why the agent's next call may not go out, if it may not (and everyone told, once)."""
        found = await self._check(agent)
        if found is not None and agent not in self._flags:
            await self._flag(agent, found)
        return found

    def exhausted(self, agent: str) -> Exhausted | None:
        return self._flags.get(agent)

    async def reconsider(self, agent: str) -> None:
        """After a window reset or a config change: lift the flag if no budget is spent any more."""
        if agent not in self._flags:
            return
        found = await self._check(agent)
        if found is None:
            del self._flags[agent]
            self._cancel_timer(agent)
            await self.hooks.restored(agent)
        elif found != self._flags[agent]:
            self._flags[agent] = found
            self._arm(agent, found.resets_at)

    async def reconsider_all(self) -> None:
        for agent in list(self._flags):
            await self.reconsider(agent)

    # --- after a call -----------------------------------------------------------------------------
    def record(self, agent: str, model: str, usage: Usage) -> UsageRecord:
        """Price and count one call at once (the next call's check sees it); store it in the background."""
        record = self.count(agent, model, usage)
        self.save(record)
        return record

    def save(self, record: UsageRecord) -> None:
        """Store a counted call and check its agent's budgets in the background: the gateway calls this after
        the answer's end, so neither that answer nor the agent's next call waits on an fsync (`settle` and
        `close` wait for it)."""
        self._writes.spawn(lambda: self._store_and_check(record.agent, record))

    def count(self, agent: str, model: str, usage: Usage) -> UsageRecord:
        """Price one call and add it to the running totals (and the running turn), at once."""
        now = self.clock.now()
        cost = price_table().cost(model, usage)
        turn = self._turns.get(agent)
        record = UsageRecord(now, agent, turn.turn if turn else None, model, usage.input_tokens,
                             usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
                             cost or 0.0, cost is not None)
        for scope in (agent, HIVE):
            self.ledger.add(scope, now, usage.tokens, record.cost_usd)
        if turn is not None:
            turn.calls += 1
            turn.tokens += usage.tokens
            turn.cost_usd += record.cost_usd
        self.hooks.metered(agent)
        return record

    async def _store_and_check(self, agent: str, record: UsageRecord) -> None:
        await self._store(agent, record)
        await self._check_after(agent)

    async def _check_after(self, agent: str) -> None:
        await self.refusal(agent)  # a call that spent the budget flags it now, not at the next call

    async def _store(self, agent: str, record: UsageRecord) -> None:
        try:
            await self.store.add_usage([record])
        except Exception:  # the call is answered: a lost row is logged, never raised into the stream
            log.exception("usage of %s could not be stored", agent)

    # --- turns ------------------------------------------------------------------------------------
    def turn_started(self, agent: str, turn: int) -> None:
        self._turns[agent] = TurnSpend(turn)

    def turn_ended(self, agent: str) -> None:
        self._turns.pop(agent, None)

    def running_turn(self, agent: str) -> TurnSpend | None:
        return self._turns.get(agent)

    # --- the machinery ----------------------------------------------------------------------------
    async def _check(self, agent: str) -> Exhausted | None:
        now = self.clock.now()
        return (first_exhausted(agent, await self.hooks.agent_limits(agent), self.ledger.spent(agent, now), now)
                or first_exhausted(HIVE, self.hooks.hive_limits(), self.ledger.spent(HIVE, now), now))

    async def _flag(self, agent: str, found: Exhausted) -> None:
        self._flags[agent] = found
        self._arm(agent, found.resets_at)
        await self.hooks.exhausted(agent, found)

    def _arm(self, agent: str, when: float) -> None:
        self._cancel_timer(agent)
        self._timers[agent] = self.clock.call_at(when, lambda: self._writes.spawn(lambda: self.reconsider(agent)))

    def _cancel_timer(self, agent: str) -> None:
        timer = self._timers.pop(agent, None)
        if timer is not None:
            timer.cancel()

    def _schedule_prune(self) -> None:
        async def prune() -> None:
            await self.store.prune_usage(self.clock.now() - KEEP_SECONDS)
            self._schedule_prune()

        self._prune_timer = self.clock.call_at(day_end(self.clock.now()), lambda: self._writes.spawn(prune))

    async def settle(self) -> None:
        """Wait for the stores and checks in flight (tests, and the bench)."""
        await self._writes.settle()
