"""The restart window as a rule, apart from the supervisor: at most `max_restarts` restarts within
`window_seconds`, each after `delay_seconds`; one exit more and it gives up. The clock is the test's."""

from __future__ import annotations

from hyperhive.config import RestartConfig
from hyperhive.core.restart_policy import Decision, RestartPolicy, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def crashes(policy: RestartPolicy, config: RestartConfig, n: int, clock: Clock, every: float) -> list[Decision]:
    found = []
    for _ in range(n):
        found.append(policy.decide("bob", config, clean=False))
        clock.now += every
    return found


def test_gives_up_after_max_restarts_within_the_window() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    config = RestartConfig(max_restarts=3, window_seconds=60, delay_seconds=2.5)
    decisions = crashes(policy, config, 4, clock, every=10)
    assert [d.verdict for d in decisions] == [Verdict.RESTART] * 3 + [Verdict.GIVE_UP]
    assert {d.delay for d in decisions[:3]} == {2.5}
    assert decisions[3].note == "3 restarts within 60 s; left failed"


def test_restarts_older_than_the_window_no_longer_count() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    config = RestartConfig(max_restarts=2, window_seconds=60)
    assert [d.verdict for d in crashes(policy, config, 2, clock, every=31)] == [Verdict.RESTART] * 2
    # now = start + 62: the first restart (at start) is out of the window, the second (start + 31) is in
    assert policy.decide("bob", config, clean=False).verdict is Verdict.RESTART
    assert policy.decide("bob", config, clean=False).verdict is Verdict.GIVE_UP


def test_each_agent_has_its_own_window_and_forget_starts_afresh() -> None:
    clock = Clock()
    policy = RestartPolicy(clock)
    config = RestartConfig(max_restarts=1, window_seconds=60)
    assert policy.decide("bob", config, clean=False).verdict is Verdict.RESTART
    assert policy.decide("amy", config, clean=False).verdict is Verdict.RESTART
    assert policy.decide("bob", config, clean=False).verdict is Verdict.GIVE_UP
    policy.forget("bob")  # a deliberate restart
    assert policy.decide("bob", config, clean=False).verdict is Verdict.RESTART


def test_the_policy_says_which_exits_come_back() -> None:
    policy = RestartPolicy(Clock())
    on_failure, always, never = (RestartConfig(policy=p) for p in ("on-failure", "always", "never"))
    assert policy.decide("a", on_failure, clean=True).verdict is Verdict.STAY_DOWN
    assert policy.decide("a", on_failure, clean=False).verdict is Verdict.RESTART
    assert policy.decide("b", always, clean=True).verdict is Verdict.RESTART
    assert policy.decide("c", never, clean=False).verdict is Verdict.STAY_DOWN


def test_zero_restarts_allowed_gives_up_at_once() -> None:
    policy = RestartPolicy(Clock())
    assert policy.decide("bob", RestartConfig(max_restarts=0), clean=False).verdict is Verdict.GIVE_UP
