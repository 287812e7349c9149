"""The lifecycle states are named in one place (core/states.py) and their values are the strings the wire
already carries; docs/protocol.md lists every one."""

from __future__ import annotations

import re
from pathlib import Path

from hyperhive.core.registry import AgentRegistry
from hyperhive.core.states import ObservedState, WantedState
from hyperhive.store import Store

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented_states() -> set[str]:
    text = PROTOCOL_MD.read_text()
    paragraph = text[text.index("`state` of a managed agent:"):].split("Of a peer")[0]
    return set(re.findall(r"`([a-z_]+)`", paragraph)) - {"state"}


def test_every_observed_state_is_documented_and_no_other() -> None:
    assert documented_states() == {s.value for s in ObservedState}


def test_a_wanted_state_is_observed_under_the_same_name() -> None:
    """A daemon that starts shows the wanted state of an agent whose sandbox it finds as it was left."""
    assert {s.value for s in WantedState} <= {s.value for s in ObservedState}
    assert f"{ObservedState.RESTARTING}" == "restarting" and ObservedState("failed") is ObservedState.FAILED


async def test_change_state_is_announced_when_the_state_changes(store: Store) -> None:
    registry = AgentRegistry(store)
    changes = registry.changes.subscribe()
    registry.change_state("bob", ObservedState.STARTING)
    assert await changes.next_batch() == ["bob"]
    registry.change_state("bob", ObservedState.STARTING)  # no change: nothing to announce
    registry.change_state("amy", ObservedState.RUNNING)
    registry.change_state("bob", ObservedState.RUNNING)
    assert await changes.next_batch() == ["amy", "bob"]
    assert registry.observed_state("bob") is ObservedState.RUNNING
    assert registry.observed_state("carl") is None
