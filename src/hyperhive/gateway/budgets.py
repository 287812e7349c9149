"""Budget windows and the running totals they are checked against.

Windows are UTC: a day from midnight, a month from the 1st. The ledger keeps, per scope (an agent's name,
or HIVE for all of them together), what was spent in the current day and month; a total from an earlier
window reads as zero, so a reset needs no sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

HIVE = "*hive*"  # the ledger's scope for the whole hive (not a valid agent name)
BudgetName = Literal["daily_tokens", "daily_usd", "monthly_usd"]


class Limits(Protocol):
    daily_tokens: int | None
    daily_usd: float | None
    monthly_usd: float | None


def day_start(at: float) -> float:
    moment = datetime.fromtimestamp(at, UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()


def month_start(at: float) -> float:
    moment = datetime.fromtimestamp(at, UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()


def day_end(at: float) -> float:
    return (datetime.fromtimestamp(day_start(at), UTC) + timedelta(days=1)).timestamp()


def month_end(at: float) -> float:
    start = datetime.fromtimestamp(month_start(at), UTC)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC).timestamp()


@dataclass
class Window:
    """What was spent in one budget window (a UTC day or month): the window's start and its totals."""

    start: float = 0.0
    tokens: int = 0
    usd: float = 0.0

    def roll(self, start: float) -> Window:
        """This window at `start`: totals of an earlier window read as zero."""
        if self.start != start:
            self.start, self.tokens, self.usd = start, 0, 0.0
        return self

    def add(self, tokens: int, usd: float) -> None:
        self.tokens += tokens
        self.usd += usd


@dataclass
class Spent:
    day: Window = field(default_factory=Window)
    month: Window = field(default_factory=Window)


@dataclass(frozen=True)
class Exhausted:
    """A spent budget: whose (`scope`: an agent, or HIVE), which, the limit, what was spent, when it resets."""

    scope: str
    budget: BudgetName
    limit: float
    spent: float
    resets_at: float

    def sentence(self) -> str:
        whose = "the hive's" if self.scope == HIVE else f"{self.scope}'s"
        reset = datetime.fromtimestamp(self.resets_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{whose} {self.budget} ({self.limit:g}) is spent ({self.spent:g}); resets at {reset}"


class Ledger:
    def __init__(self) -> None:
        self._spent: dict[str, Spent] = {}

    def add(self, scope: str, at: float, tokens: int, usd: float) -> None:
        spent = self._current(scope, at)
        for window in (spent.day, spent.month):
            window.add(tokens, usd)

    def spent(self, scope: str, now: float) -> Spent:
        return self._current(scope, now)

    def _current(self, scope: str, at: float) -> Spent:
        spent = self._spent.setdefault(scope, Spent())
        spent.day.roll(day_start(at))
        spent.month.roll(month_start(at))
        return spent


def first_exhausted(scope: str, limits: Limits, spent: Spent, now: float) -> Exhausted | None:
    """The first of `limits` that `spent` has reached, if any."""
    checks: list[tuple[BudgetName, float | None, float, float]] = [
        ("daily_tokens", limits.daily_tokens, spent.day.tokens, day_end(now)),
        ("daily_usd", limits.daily_usd, spent.day.usd, day_end(now)),
        ("monthly_usd", limits.monthly_usd, spent.month.usd, month_end(now)),
    ]
    for name, limit, used, resets_at in checks:
        if limit is not None and used >= limit:
            return Exhausted(scope, name, limit, used, resets_at)
    return None
