"""Several `hive-c0re` nodes as separate daemon processes, each with its own state and runtime dirs, on one
real PostgreSQL database the suite started (tests/support/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hive import HiveProcess, end_hive
from tests.support.postgres import PostgresServer

# Short, so a dead node is noticed within seconds; long enough (beats every third) that a node starved
# of CPU on a loaded 2-core CI machine does not miss three beats in a row.
NODE_TIMEOUT = 5.0

MakeNode = Callable[..., HiveProcess]


@pytest.fixture
def cluster(short_tmp: Path, postgres_server: PostgresServer) -> Iterator[MakeNode]:
    """`cluster("n1")` starts node n1 (and returns it); every node shares one fresh database."""
    url = postgres_server.new_database()
    made: list[HiveProcess] = []

    def node(name: str, timeout: float = NODE_TIMEOUT) -> HiveProcess:
        (short_tmp / name).mkdir(exist_ok=True)
        proc = HiveProcess(short_tmp / name, env={"HYPERHIVE_DATABASE": url, "HYPERHIVE_NODE": name,
                                                  "HYPERHIVE_NODE_TIMEOUT": str(timeout)})
        proc.start()
        made.append(proc)
        return proc

    yield node
    for proc in made:
        end_hive(proc)  # the daemon, then the agents it left


def row(node: HiveProcess, name: str) -> dict[str, Any]:
    """`name`'s status row as `node` answers it."""
    return dict(node.host.request("agent_status", names=[name])["agent_statuses"][0])


def knows(node: HiveProcess, name: str) -> bool:
    return name in node.host.request("list")["agents"]
