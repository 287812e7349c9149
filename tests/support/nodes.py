"""Several hive nodes on one PostgreSQL database, each a separate `hive-c0re` process with its own state and
runtime dirs; optionally each in a network namespace of its own (`ip netns` + a veth pair) that reaches the
database only over its veth, so a node cannot use another's files, sockets or loopback."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .hive import HiveProcess, end_hive
from .needs import unavailable
from .postgres import PostgresServer


def node_process(root: Path, name: str, database: str, env: dict[str, str] | None = None,
                 netns: str | None = None) -> HiveProcess:
    """A node named `name` in `root/name` (not started); inside network namespace `netns` when given."""
    (root / name).mkdir(exist_ok=True)
    node = HiveProcess(root / name, env={"HYPERHIVE_DATABASE": database, "HYPERHIVE_NODE": name,
                                         "HYPERHIVE_DASHBOARD": "off", **(env or {})})
    if netns is not None:
        node.command_prefix = ["ip", "netns", "exec", netns]  # execs in place: the pid is the daemon's
    return node


@contextlib.contextmanager
def started(*nodes: HiveProcess) -> Iterator[None]:
    """Start the nodes in order (the first one takes the leader lease); stop every one at the end and print
    its log (pytest shows it when the test failed)."""
    with contextlib.ExitStack() as stack:
        for node in nodes:
            stack.callback(lambda node=node: print(f"--- {node.root.name}'s log ---\n{node.log_text()[-20_000:]}"))
            stack.callback(end_hive, node)  # the daemon, then the agents it left
            node.start()
        yield


def reload_registries(*nodes: HiveProcess) -> None:
    """A node learns of agents made on other nodes when it (re)loads the registry, at start."""
    for node in nodes:
        node.stop()
        node.start()


def lease_holder(database: str, lease: str = "leader") -> tuple[str, int] | None:
    """Who holds `lease` now (by the database's clock) and at which epoch."""
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute("SELECT holder, epoch FROM leases WHERE name = %s "
                           "AND expires_at > extract(epoch from clock_timestamp())", (lease,)).fetchone()
    return (str(row[0]), int(row[1])) if row else None


# --- network namespaces ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Namespace:
    """A network namespace joined to the host by a veth pair: `host_if` (address `host_addr`) on the host,
    `node_if` (address `node_addr`) inside."""

    name: str
    host_if: str
    node_if: str
    host_addr: str
    node_addr: str

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *command], capture_output=True, text=True,
                              check=False)

    def cut(self) -> None:
        """Take the host end of the link down: the node's TCP sessions go half-open, nothing gets through."""
        ip("link", "set", self.host_if, "down")

    def mend(self) -> None:
        ip("link", "set", self.host_if, "up")


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


def require_netns() -> None:
    """`ip` (iproute2) and the right to make network namespaces (root, or CAP_NET_ADMIN)."""
    if shutil.which("ip") is None:
        unavailable("iproute2 (`ip`)", "no `ip` command on PATH (apt install iproute2)")
    if os.geteuid() != 0:
        unavailable("network namespaces", "`ip netns add` needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")


@contextlib.contextmanager
def network_namespaces(names: list[str]) -> Iterator[dict[str, Namespace]]:
    """One namespace per name, each with its own /30 on a veth pair and loopback up; all removed at the end
    (deleting a namespace deletes the veth end inside it, and with it the host end), even on failure."""
    require_netns()
    sweep_stale_namespaces()
    tag = os.getpid()  # names carry the test process's pid; "hh<pid><name>h" stays within 15 bytes
    prefix = f"10.213.{os.getpid() % 250}"  # a /30 per namespace in a /24 no other test uses
    made: list[Namespace] = []
    try:
        for i, name in enumerate(names):
            space = Namespace(name=f"hh{tag}{name}", host_if=f"hh{tag}{name}h", node_if=f"hh{tag}{name}n",
                              host_addr=f"{prefix}.{i * 4 + 1}", node_addr=f"{prefix}.{i * 4 + 2}")
            try:
                ip("netns", "add", space.name)
            except RuntimeError as exc:
                unavailable("network namespaces", str(exc))
            made.append(space)
            ip("link", "add", space.host_if, "type", "veth", "peer", "name", space.node_if, "netns", space.name)
            ip("addr", "add", f"{space.host_addr}/30", "dev", space.host_if)
            ip("link", "set", space.host_if, "up")
            ip("-n", space.name, "addr", "add", f"{space.node_addr}/30", "dev", space.node_if)
            ip("-n", space.name, "link", "set", space.node_if, "up")
            ip("-n", space.name, "link", "set", "lo", "up")
        yield {name: space for name, space in zip(names, made, strict=False)}
    finally:
        for space in made:
            with contextlib.suppress(RuntimeError):
                ip("netns", "del", space.name)
            with contextlib.suppress(RuntimeError):
                ip("link", "del", space.host_if)  # only if the namespace was gone before its veth end


def sweep_stale_namespaces() -> None:
    """Remove what a test process killed before its cleanup left behind (its pid is in the names)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    for line in listed.splitlines():
        found = re.fullmatch(r"hh(\d+)(n\d+)", line.split(" ")[0])
        if found and not Path(f"/proc/{found[1]}").exists():
            with contextlib.suppress(RuntimeError):
                ip("netns", "del", found[0])


class ReachablePostgres(PostgresServer):
    """The suite's PostgreSQL server, listening also on the host ends of veth pairs and trusting the nodes'
    addresses (a test server in a temp dir: trust, as on loopback)."""

    def __init__(self, spaces: list[Namespace]) -> None:
        super().__init__()
        self.spaces = spaces

    def start_server(self) -> None:
        hba = self.data / "pg_hba.conf"
        lines = "".join(f"host all all {s.node_addr}/32 trust\n" for s in self.spaces)
        if lines not in hba.read_text():
            with hba.open("a") as out:
                out.write(lines)
        listen = ",".join(["127.0.0.1", *(s.host_addr for s in self.spaces)])
        options = f"-c listen_addresses={listen} -p {self.port} -k {self.root} -c max_connections=200"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def url_from(self, space: Namespace, database_url: str) -> str:
        """`database_url` as a node inside `space` reaches it: over its veth, not loopback."""
        return database_url.replace("@127.0.0.1:", f"@{space.host_addr}:")


@contextlib.contextmanager
def postgres_for(spaces: list[Namespace]) -> Iterator[ReachablePostgres]:
    server = ReachablePostgres(spaces)
    try:
        server.start()
        yield server
    finally:
        server.stop()
