"""Every agent belongs to a node: the one that made it (registered the peer, spawned the agent), shown on its
status row; rows from before nodes existed are claimed by the first node that opens the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from hyperhive.store import AgentRecord
from hyperhive.store.auto import open_store
from tests.support.fixtures import on_both_backends
from tests.support.hive import settings_for
from tests.support.postgres import PostgresServer

pytest_generate_tests = on_both_backends


async def test_an_agent_belongs_to_the_node_that_made_it(hive: Hive) -> None:
    await hive.host_server.handle(None, {"cmd": "register_peer", "name": "pb"})  # type: ignore[arg-type]
    rows = await hive.host_server.handle(None, {"cmd": "agent_status", "names": ["pb"]})  # type: ignore[arg-type]
    assert rows is not None and rows["agent_statuses"][0]["node"] == hive.settings.node


async def test_rows_from_before_nodes_are_claimed_by_the_first_node(short_tmp: Path) -> None:
    settings = settings_for(short_tmp, node="n7")
    settings.state_dir.mkdir(parents=True)
    store = open_store(settings.database, settings.db_path)  # the run's backend
    await store.open()
    await store.create_agent(AgentRecord("old", "peer", created_at=1.0))  # node: None, as before nodes
    await store.close()
    async with Hive(settings) as hive:
        assert hive.registry.require("old").node == "n7"
        assert (await hive.store.get_agent("old")).node == "n7"  # type: ignore[union-attr]


async def test_a_node_does_not_start_another_nodes_agents(short_tmp: Path, postgres_server: PostgresServer) -> None:
    """Two nodes on one PostgreSQL database: n1's supervisor leaves n2's managed agent alone at start."""
    database = postgres_server.new_database()
    async with Hive(settings_for(short_tmp / "n2", node="n2", database=database)) as n2:
        await n2.registry.add(AgentRecord("far", "managed", created_at=1.0, node="n2"))
    async with Hive(settings_for(short_tmp / "n1", node="n1", database=database)) as n1:
        assert n1.registry.require("far").node == "n2"
        assert n1.registry.observed_state("far") is None  # not adopted, not restarted here
        assert not n1.supervisor.runs_here(n1.registry.require("far"))


@pytest.mark.sqlite_only("the embedded one-host hive; on PostgreSQL a node under a new name is another node")
async def test_a_one_host_hive_keeps_its_agents_when_its_host_is_renamed(short_tmp: Path) -> None:
    """On SQLite the node is the whole hive: agents stored under the host's old name are this node's, not
    agents of a node that went offline (their verbs would go nowhere)."""
    async with Hive(settings_for(short_tmp, node="old-name")) as hive:
        await hive.registry.add(AgentRecord("pb", "peer", created_at=1.0, node="old-name"))
        assert hive.registry.require("pb").node == "old-name"
    async with Hive(settings_for(short_tmp, node="new-name")) as hive:
        assert hive.registry.require("pb").node == "new-name"
        row = (await hive.status_rows(["pb"]))[0]
        assert (row.node, row.node_offline) == ("new-name", False)
