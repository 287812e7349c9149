"""Every agent belongs to a node: the one that made it (registered the peer, spawned the agent), shown on its
status row; rows from before nodes existed are claimed by the first node that opens the store."""

from __future__ import annotations

from pathlib import Path

from hyperhive.core.hive import Hive
from hyperhive.store.sqlite import SQLiteStore
from tests.support.fixtures import on_both_backends
from tests.support.hive import settings_for

pytest_generate_tests = on_both_backends


async def test_an_agent_belongs_to_the_node_that_made_it(hive: Hive) -> None:
    await hive.host_server.handle(None, {"cmd": "register_peer", "name": "pb"})  # type: ignore[arg-type]
    rows = await hive.host_server.handle(None, {"cmd": "agent_status", "names": ["pb"]})  # type: ignore[arg-type]
    assert rows is not None and rows["agent_statuses"][0]["node"] == hive.settings.node


async def test_rows_from_before_nodes_are_claimed_by_the_first_node(short_tmp: Path) -> None:
    settings = settings_for(short_tmp, node="n7")
    settings.state_dir.mkdir(parents=True)
    store = SQLiteStore(settings.db_path)
    await store.open()
    from hyperhive.store import AgentRecord

    await store.create_agent(AgentRecord("old", "peer", created_at=1.0))  # node: None, as before nodes
    await store.close()
    async with Hive(settings) as hive:
        assert hive.registry.require("old").node == "n7"
        assert (await hive.store.get_agent("old")).node == "n7"  # type: ignore[union-attr]


async def test_a_node_does_not_start_another_nodes_agents(short_tmp: Path) -> None:
    """Two nodes on one store: n1's supervisor leaves n2's managed agent alone at start."""
    settings = settings_for(short_tmp, node="n1")
    settings.state_dir.mkdir(parents=True)
    store = SQLiteStore(settings.db_path)
    await store.open()
    from hyperhive.store import AgentRecord

    await store.create_agent(AgentRecord("far", "managed", created_at=1.0, lifecycle="running", node="n2"))
    await store.close()
    async with Hive(settings) as hive:
        assert hive.registry.observed_state("far") is None  # not adopted, not restarted here
        assert not hive.supervisor.runs_here(hive.registry.require("far"))
