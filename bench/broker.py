"""Broker benchmark against a real hive-c0re process.

Prints send→recv latency (p50/p99: from the moment `send` is written until the blocked `recv` of the
recipient returns it; with `ack` as the recv tool does, and without, as the harness does; on the fresh store,
and again once its WAL has wrapped, as in a hive that has run a while) and durable send
throughput (answered sends per second: each answer means the message was committed and fsynced) for one
sender and for 50 concurrent agents. And what the machine's wake-ups cost, apart from the hive: `whoami`
and a lone `send` back to back and after 5 ms of quiet (as the send→recv rounds leave the daemon), a
16 KB write + fdatasync in the same file system with no hive at all, and the least a durable relay costs
(a forked process that fsyncs each line before passing it on: a send→recv with nothing of the hive in it).

    .venv/bin/python bench/broker.py [--messages N] [--rounds N] [--runs N] [--profile PATH] [--src DIR]

`--src DIR` runs the daemon from another tree's `src/` (e.g. `git archive <commit> src | tar -x -C /tmp/old`):
before and after, interleaved, under the same load.

`--profile PATH` runs the daemon under bench/_profiled.py and writes a pstats profile of its CPU per phase:
PATH.latency (send→recv with ack) and PATH.fifty (50 agents). With yappi installed in the venv (not a
dependency) it covers every thread, the SQLite writer's too; without, cProfile sees the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header, parser, report
from tests.support.hive import HiveProcess

from hyperhive.client import AsyncSocketClient


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(hive: HiveProcess, rounds: int, ack: bool = True) -> list[float]:
    """`ack`: the recv acks as it takes (the model's recv tool); without, the message is acked after the
    recv returned, outside the measured time (the harness acks when its turn ends)."""
    sender = AsyncSocketClient(hive.agent_socket("a0"))
    receiver = AsyncSocketClient(hive.agent_socket("a1"))
    samples = []

    async def recv() -> tuple[dict[str, Any], float]:
        got = await receiver.request("recv", wait_seconds=30, max=1, ack=ack)
        return got, time.perf_counter()  # the moment the recv returned, whether the send's answer came yet

    for i in range(rounds):
        waiting = asyncio.create_task(recv())
        await asyncio.sleep(0.005)  # the recv is blocked in the daemon before the send starts (not timed)
        started = time.perf_counter()
        await sender.request("send", to="a1", body=f"ping {i}")
        got, returned = await waiting
        samples.append(returned - started)
        assert got["messages"][0]["body"] == f"ping {i}"
        if not ack:
            await receiver.request("ack", ids=[got["messages"][0]["id"]])
    await sender.close()
    await receiver.close()
    return samples


async def until_the_wal_wraps(hive: HiveProcess, quiet_rounds: int = 500, limit: int = 50_000) -> int:
    """Untimed send→recv rounds, back to back, until the store's WAL has kept its size for `quiet_rounds`
    rounds: its first checkpoint has let commits start again at its beginning, so from then on a commit
    overwrites frames in place, as in a hive that has run a while. Until then (a fresh store's first
    ~4 MB, `wal_autocheckpoint`'s 1,000 pages) each commit appends, and its fdatasync must also journal the
    file's new size. The rounds it took."""
    wal = hive.settings.db_path.with_name(hive.settings.db_path.name + "-wal")
    sender = AsyncSocketClient(hive.agent_socket("a0"))
    receiver = AsyncSocketClient(hive.agent_socket("a1"))
    size, same = -1, 0
    for done in range(1, limit + 1):
        waiting = asyncio.create_task(receiver.request("recv", wait_seconds=30, max=1, ack=True))
        await sender.request("send", to="a1", body=f"fill {done}")
        await waiting
        now = wal.stat().st_size
        same = same + 1 if now == size else 0
        size = now
        if same == quiet_rounds:
            break
    else:
        raise SystemExit(f"the WAL still grew after {limit:,} rounds ({size:,} bytes): no steady state to time")
    await sender.close()
    await receiver.close()
    return done


async def round_trips(hive: HiveProcess, cmd: str, idle: float, rounds: int = 1000, **fields: Any) -> float:
    """p50 of one request's round trip (ms), back to back (`idle` 0) or after `idle` seconds of quiet:
    what the VM's wake-ups cost a request, apart from anything the hive does."""
    client = AsyncSocketClient(hive.agent_socket("a0"))
    samples = []
    for _ in range(rounds):
        if idle:
            await asyncio.sleep(idle)
        started = time.perf_counter()
        await client.request(cmd, **fields)
        samples.append(time.perf_counter() - started)
    await client.close()
    return percentile(samples, 0.5) * 1e3


class SyncedBlocks:
    """16 KB writes (about a send's WAL frames), each fdatasynced, into a file made beforehand and overwritten
    in place, as SQLite reuses its WAL after a checkpoint: the durable write under a send, with no hive."""

    SIZE = 16_480

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        os.pwrite(self.fd, bytes(4 << 20), 0)
        os.fsync(self.fd)
        self.offset = 0

    def write(self, data: bytes) -> None:
        os.pwrite(self.fd, data.ljust(self.SIZE), self.offset)
        os.fdatasync(self.fd)
        self.offset = (self.offset + self.SIZE) % (3 << 20)

    def close(self) -> None:
        os.close(self.fd)


def fdatasync_p50(directory: Path, idle: float, rounds: int = 1000) -> float:
    """p50 (ms) of a 16 KB write and fdatasync in the state directory's file system, with no hive at all:
    the floor under a durable send, back to back or after `idle` seconds of quiet."""
    blocks = SyncedBlocks(directory / "fdatasync.probe")
    try:
        samples = []
        for _ in range(rounds):
            if idle:
                time.sleep(idle)
            started = time.perf_counter()
            blocks.write(b"w")
            samples.append(time.perf_counter() - started)
        return percentile(samples, 0.5) * 1e3
    finally:
        blocks.close()


def relay_p50(directory: Path, idle: float, rounds: int = 1000) -> float:
    """p50 (ms) of the least a durable relay can cost here, with no hive: this process writes a line to a
    forked process, which writes it to a file (padded to 16 KB, about a send's WAL frames), fdatasyncs and
    sends it back on a second socket, which this process is blocked on (a send→recv's shape: two processes,
    two hops, one fsync, in plain blocking calls)."""
    inbound, relay_in = socket.socketpair()
    relay_out, outbound = socket.socketpair()
    child = os.fork()
    if child == 0:  # the relay: as little as a durable hop can be
        try:
            inbound.close()  # this process's ends, or the relay never sees the end of its input
            outbound.close()
            blocks = SyncedBlocks(directory / "relay.probe")
            while line := relay_in.recv(4096):
                blocks.write(line)
                relay_out.sendall(line)
        finally:
            os._exit(0)
    relay_in.close()
    relay_out.close()
    samples = []
    try:
        for i in range(rounds):
            if idle:
                time.sleep(idle)
            line = f"ping {i}\n".encode()
            started = time.perf_counter()
            inbound.sendall(line)
            got = outbound.recv(4096)
            samples.append(time.perf_counter() - started)
            assert got == line, got
    finally:
        inbound.close()
        outbound.close()
        os.waitpid(child, 0)
    return percentile(samples, 0.5) * 1e3


def wake_ups(hive: HiveProcess, root: Path) -> dict[str, float]:
    """The same requests back to back and after 5 ms of quiet (as the send→recv rounds leave the daemon)."""
    figures = {}
    for idle, when in ((0.0, "back to back"), (0.005, "after 5 ms idle")):
        figures[f"whoami round trip p50, {when}"] = asyncio.run(round_trips(hive, "whoami", idle))
        figures[f"send round trip p50 (no reader), {when}"] = asyncio.run(
            round_trips(hive, "send", idle, to="a2", body="x"))
        figures[f"16 KB write + fdatasync p50, {when}"] = fdatasync_p50(root, idle)
        figures[f"durable relay, no hive, p50, {when}"] = relay_p50(root, idle)
    return figures


async def batched_throughput(hive: HiveProcess, total: int, batch: int = 100) -> float:
    client = AsyncSocketClient(hive.agent_socket("a0"))
    await client.connect()
    started = time.perf_counter()
    for start in range(0, total, batch):
        messages = [{"to": "a1", "body": f"m{i}"} for i in range(start, start + batch)]
        await client.request("send_batch", messages=messages)
    elapsed = time.perf_counter() - started
    await client.close()
    return total / elapsed


async def throughput(hive: HiveProcess, agents: int, total: int) -> float:
    clients = [AsyncSocketClient(hive.agent_socket(f"a{i}")) for i in range(agents)]
    per_agent = total // agents

    async def run(index: int, client: AsyncSocketClient) -> None:
        target = f"a{(index + 1) % max(agents, 2)}"  # the broker refuses mail to oneself: one agent sends to a1
        for i in range(per_agent):
            await client.request("send", to=target, body=f"m{i}")

    for client in clients:
        await client.connect()
    started = time.perf_counter()
    await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.close()
    return per_agent * agents / elapsed


def daemon_cpu(hive: HiveProcess) -> float:
    """Seconds of CPU the daemon used so far (user + system, every thread): a figure load moves less."""
    assert hive.proc is not None
    fields = Path(f"/proc/{hive.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Profile:
    """Profiles of the daemon's phases (bench/_profiled.py): SIGUSR2 starts one, the next ends and writes it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.phases: list[str] = []

    def prefix(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("_profiled.py")), str(self.path)] if self.path else []

    @contextlib.contextmanager
    def phase(self, hive: HiveProcess, name: str) -> Iterator[None]:
        if self.path is None or hive.proc is None:
            yield
            return
        hive.proc.send_signal(signal.SIGUSR2)
        try:
            yield
        finally:
            hive.proc.send_signal(signal.SIGUSR2)
            self.phases.append(name)

    def rename(self) -> None:
        """PATH.1, PATH.2 (numbered by the daemon) get their phase's name."""
        for number, name in enumerate(self.phases, 1):
            Path(f"{self.path}.{number}").replace(f"{self.path}.{name}")
            print(f"profile of {name}: {self.path}.{name}")


def one_run(messages: int, rounds: int, profile: Profile, src: Path | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hhb-", dir="/tmp") as root:
        hive = HiveProcess(Path(root), env={"PYTHONPATH": str(src.resolve())} if src else None)
        hive.log_level = "WARNING"
        hive.command_prefix = profile.prefix()
        hive.start()
        try:
            for i in range(50):
                hive.host.request("register_peer", name=f"a{i}")
            with profile.phase(hive, "latency"):
                samples = asyncio.run(latency(hive, rounds))
            unacked = asyncio.run(latency(hive, rounds, ack=False))
            filled = asyncio.run(until_the_wal_wraps(hive))
            steady = asyncio.run(latency(hive, rounds))
            return {"send→recv p50": percentile(samples, 0.5) * 1e3, "send→recv p99": percentile(samples, 0.99) * 1e3,
                    "send→recv mean": statistics.fmean(samples) * 1e3,
                    "send→recv p50, recv without ack": percentile(unacked, 0.5) * 1e3,
                    "rounds until the WAL wrapped": filled,
                    "send→recv p50, WAL wrapped": percentile(steady, 0.5) * 1e3,
                    "send→recv p99, WAL wrapped": percentile(steady, 0.99) * 1e3,
                    **wake_ups(hive, Path(root)),
                    "sends/s, 1 agent, one per request": asyncio.run(throughput(hive, 1, messages // 2)),
                    "sends/s, 1 agent, send_batch of 100": asyncio.run(batched_throughput(hive, messages)),
                    **fifty_agents(hive, messages, profile)}
        finally:
            hive.stop()


def fifty_agents(hive: HiveProcess, messages: int, profile: Profile) -> dict[str, float]:
    used = daemon_cpu(hive)
    with profile.phase(hive, "fifty"):
        rate = asyncio.run(throughput(hive, 50, messages))
    return {"sends/s, 50 agents": rate,
            "daemon CPU per send, 50 agents (µs)": (daemon_cpu(hive) - used) / (messages // 50 * 50) * 1e6}


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--messages", type=int, default=10_000)
    args_parser.add_argument("--rounds", type=int, default=2_000)
    args_parser.add_argument("--profile", type=Path, default=None, metavar="PATH",
                             help="profile the daemon (one run): PATH.latency and PATH.fifty, pstats")
    args_parser.add_argument("--src", type=Path, default=None, metavar="DIR",
                             help="run the daemon from this src/ directory (another commit's) instead")
    args = args_parser.parse_args()
    header("broker: a real hive-c0re, 50 registered agents")
    runs = []
    for run in range(1 if args.profile else args.runs):
        profile = Profile(args.profile)
        runs.append(one_run(args.messages, args.rounds, profile, args.src))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:,.2f}" for k, v in runs[-1].items()), flush=True)
        profile.rename()

    def fmt(key: str, v: float) -> str:
        if any(word in key for word in (" p50", " p99", " mean")):
            return f"{v:.2f} ms"
        return f"{v:,.0f}" + ("" if "µs" in key or "rounds" in key else " /s")

    report(runs, fmt)


if __name__ == "__main__":
    main()
