"""Nodes on PostgreSQL: cross-node send→recv latency and durable sends/s, beside one node on SQLite.

A real PostgreSQL server (initdb in a temp dir, as the tests start it) and real `hive-c0re` node processes,
each with its own state and runtime dirs. Latency: a recipient's `recv` blocked on node n2, a `send` to it
written on node n1; from writing the send until the recv returns (insert + NOTIFY in one transaction, n2's
listener wakes the reader). Throughput: 50 agents spread over 3 nodes, each sending one message per request
to an agent on another node, for a fixed count; answered sends per second (each answer: committed).

    .venv/bin/python bench/multihost.py [--runs 3] [--rounds 500] [--messages 4000]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header, parser, report
from tests.support.hive import HiveProcess
from tests.support.postgres import PostgresServer, running_postgres

from hyperhive.client import AsyncSocketClient

AGENTS = 50


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def nodes(root: Path, names: list[str], database: str) -> Iterator[dict[str, HiveProcess]]:
    """Node processes on one database (or one SQLite node when `database` is empty)."""
    with ExitStack() as stack:
        made = {}
        for name in names:
            env = {"HYPERHIVE_NODE": name, "HYPERHIVE_DASHBOARD": "off"}
            if database:
                env["HYPERHIVE_DATABASE"] = database
            (root / name).mkdir()
            node = HiveProcess(root / name, env=env)
            node.log_level = "WARNING"
            node.start()
            stack.callback(node.stop)
            made[name] = node
        yield made


def register(node: HiveProcess, agents: list[str]) -> None:
    for name in agents:
        node.host.request("register_peer", name=name)


def reload_registries(made: dict[str, HiveProcess]) -> None:
    """A node learns of agents made on other nodes when it (re)loads the registry (until registry sync)."""
    for node in made.values():
        node.stop()
        node.start()


async def latency(sender: HiveProcess, receiver: HiveProcess, rounds: int) -> list[float]:
    a = AsyncSocketClient(sender.agent_socket("a0"))
    b = AsyncSocketClient(receiver.agent_socket("b0"))
    samples = []
    for i in range(rounds):
        waiting = asyncio.create_task(b.request("recv", wait_seconds=30, max=1, ack=True))
        await asyncio.sleep(0.002)  # the recv is parked in the receiving daemon before the send starts
        started = time.perf_counter()
        await a.request("send", to="b0", body=f"ping {i}")
        got = await waiting
        samples.append(time.perf_counter() - started)
        assert got["messages"][0]["body"] == f"ping {i}"
    await a.close()
    await b.close()
    return samples


async def throughput(placement: dict[str, HiveProcess], total: int) -> float:
    """Every agent sends total/AGENTS messages, one per request, to the other agents in turn (round robin)."""
    names = sorted(placement)
    clients = {n: AsyncSocketClient(placement[n].agent_socket(n)) for n in names}
    per_agent = total // len(names)

    async def sender(index: int) -> None:
        client = clients[names[index]]
        for i in range(per_agent):
            to = names[(index + 1 + i % (len(names) - 1)) % len(names)]  # every other agent in turn, never itself
            await client.request("send", to=to, body=f"m{i}")

    started = time.perf_counter()
    await asyncio.gather(*(sender(i) for i in range(len(names))))
    elapsed = time.perf_counter() - started
    for client in clients.values():
        await client.close()
    return per_agent * len(names) / elapsed


def cross_node_run(server: PostgresServer, rounds: int, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hh-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        with nodes(root, ["n1", "n2", "n3"], server.new_database()) as made:
            register(made["n1"], ["a0"])
            register(made["n2"], ["b0"])
            spread = {f"p{i:02d}": ["n1", "n2", "n3"][i % 3] for i in range(AGENTS)}
            for name, node in spread.items():
                register(made[node], [name])
            reload_registries(made)
            samples = asyncio.run(latency(made["n1"], made["n2"], rounds))
            rate = asyncio.run(throughput({n: made[node] for n, node in spread.items()}, messages))
    return {"cross-node send→recv p50 ms": statistics.median(samples) * 1000,
            "cross-node send→recv p99 ms": percentile(samples, 0.99) * 1000,
            "durable sends/s, 50 agents over 3 nodes": rate}


def sqlite_run(rounds: int, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hh-bench-", dir="/tmp") as tmp, \
            nodes(Path(tmp), ["solo"], "") as made:
        node = made["solo"]
        register(node, ["a0", "b0", *(f"p{i:02d}" for i in range(AGENTS))])
        samples = asyncio.run(latency(node, node, rounds))
        rate = asyncio.run(throughput({f"p{i:02d}": node for i in range(AGENTS)}, messages))
    return {"one node (SQLite) send→recv p50 ms": statistics.median(samples) * 1000,
            "one node (SQLite) send→recv p99 ms": percentile(samples, 0.99) * 1000,
            "durable sends/s, 50 agents on one SQLite node": rate}


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--rounds", type=int, default=500, help="send→recv round trips per run")
    args_parser.add_argument("--messages", type=int, default=4000, help="sends per throughput run")
    args = args_parser.parse_args()
    header("nodes on PostgreSQL: cross-node delivery (bench/multihost.py)")
    runs = []
    with running_postgres() as server:
        for _ in range(args.runs):
            runs.append({**cross_node_run(server, args.rounds, args.messages),
                         **sqlite_run(args.rounds, args.messages)})
    report(runs, lambda key, value: f"{value:,.0f} /s" if "/s" in key else f"{value:.2f} ms")


if __name__ == "__main__":
    main()
