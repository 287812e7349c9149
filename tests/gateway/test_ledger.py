"""The ledger's windows: a UTC day's totals read as zero the next day, a month's the next month; spending adds
to both windows of its scope at once."""

from __future__ import annotations

from datetime import UTC, datetime

from hyperhive.gateway.budgets import HIVE, Ledger


def at(*when: int) -> float:
    return datetime(*when, tzinfo=UTC).timestamp()


def test_the_day_resets_at_midnight_and_the_month_on_the_first() -> None:
    ledger = Ledger()
    ledger.add("alice", at(2026, 1, 31, 23, 0), 100, 1.5)
    ledger.add("alice", at(2026, 1, 31, 23, 30), 50, 0.5)
    spent = ledger.spent("alice", at(2026, 1, 31, 23, 59))
    assert (spent.day.tokens, spent.day.usd, spent.month.tokens, spent.month.usd) == (150, 2.0, 150, 2.0)

    ledger.add("alice", at(2026, 1, 31, 23, 59), 10, 0.25)  # same month, still the 31st
    assert ledger.spent("alice", at(2026, 1, 31, 23, 59)).day.tokens == 160

    february = ledger.spent("alice", at(2026, 2, 1, 0, 1))  # a new day and a new month: both read zero
    assert (february.day.tokens, february.month.usd) == (0, 0.0)

    ledger.add("alice", at(2026, 2, 1, 9, 0), 5, 1.0)
    ledger.add("alice", at(2026, 2, 2, 9, 0), 7, 2.0)  # the next day: the month keeps counting
    spent = ledger.spent("alice", at(2026, 2, 2, 10, 0))
    assert (spent.day.tokens, spent.day.usd, spent.month.tokens, spent.month.usd) == (7, 2.0, 12, 3.0)
    assert ledger.spent(HIVE, at(2026, 2, 2, 10, 0)).month.usd == 0.0  # scopes are apart
