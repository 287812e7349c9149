"""Running a real hive for tests: in-process (fast, real sockets) or as a real `hive-c0re` subprocess
(for kill -9 and restart stories). Readiness comes from `--ready-fd`, never from sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hyperhive.client import SocketClient
from hyperhive.config.settings import HiveSettings, load_settings

from .postgres import SuiteDatabases


def settings_for(root: Path, **overrides: str) -> HiveSettings:
    """Settings for a hive under `root`; on a PostgreSQL run (HYPERHIVE_TEST_DATABASE) its own database."""
    if "database" not in overrides:
        overrides["database"] = SuiteDatabases.for_root(root)
    values = {"state_dir": str(root / "state"), "runtime_dir": str(root / "run"), "runtime": "process",
              "dashboard": "127.0.0.1:0", "manager": "off", **overrides}
    return load_settings(values, environ={})


class AgentConn:
    """A raw line connection to an agent's socket (what a harness or MCP server would hold)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.stream = self.sock.makefile("rwb")

    def request(self, cmd: str, **fields: Any) -> dict[str, Any]:
        self.send_raw(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        return self.read()

    def send_raw(self, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()

    def read(self) -> dict[str, Any]:
        line = self.stream.readline()
        assert line, "the hive closed the connection"
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        try:
            self.stream.close()  # flushes what a cut request left unsent: the hive may be gone (a broken pipe)
        except OSError:
            pass
        finally:
            self.sock.close()

    def __enter__(self) -> AgentConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HiveProcess:
    """`hive-c0re run` as a subprocess with its own state and runtime dirs."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, verb: str = "run") -> None:
        self.root = root
        self.verb = verb  # `serve` is the original's name for `run`
        chosen = (env or {}).get("HYPERHIVE_DATABASE")  # several nodes on one database name it
        self.settings = settings_for(root) if chosen is None else settings_for(root, database=chosen)
        self.log_path = root / "hive-c0re.log"
        self.env = {**os.environ, "HYPERHIVE_DATABASE": self.settings.database,
                    "HYPERHIVE_STATE_DIR": str(self.settings.state_dir),
                    "HYPERHIVE_RUNTIME_DIR": str(self.settings.runtime_dir), "HYPERHIVE_RUNTIME": "process",
                    "HYPERHIVE_DASHBOARD": "127.0.0.1:0", "HYPERHIVE_MANAGER": "off", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_level = "DEBUG"
        self.command_prefix: list[str] = []  # e.g. `ip netns exec NS`: the daemon in another network namespace

    @property
    def host(self) -> SocketClient:
        return SocketClient(self.settings.host_socket)

    def agent_socket(self, name: str) -> Path:
        return self.settings.agent_socket_dir(name) / "mcp.sock"

    def start(self, timeout: float = 30.0) -> None:
        read_fd, write_fd = os.pipe()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.command_prefix, sys.executable, "-m", "hyperhive.cli.c0re", self.verb, "--ready-fd", str(write_fd),
             "--log-level", self.log_level],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True,
        )
        os.close(write_fd)
        log.close()
        try:
            ready, _, _ = select.select([read_fd], [], [], timeout)
            data = os.read(read_fd, 100) if ready else b""
        finally:
            os.close(read_fd)
        if data != b"ready\n":
            self.stop()
            raise RuntimeError(f"hive-c0re did not become ready; its log:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait(10)


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Wait for a condition this test cannot be told about (another process's files, a subprocess's
    state). Delivery itself is never tested this way: tests block on the hive's own answers."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def accepts(path: Path) -> bool:
    """Whether a Unix socket takes connections: the name appears at bind(), before listen(), so a test
    that waits for a socket waits for this, never for the path."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


@contextlib.contextmanager
def hive_process(root: Path) -> Any:
    hive = HiveProcess(root)
    hive.start()
    try:
        yield hive
    finally:
        hive.stop()


def end_hive(hive: HiveProcess) -> None:
    """Stop the daemon, then every sandbox it left (the agents outlive a daemon by design, so a test that
    only stops its daemon leaves its agents running after it)."""
    hive.stop()
    destroy_sandboxes(hive.settings.runtime_dir)


def destroy_sandboxes(runtime_dir: Path) -> None:
    """Destroy every sandbox whose keeper keeps its files under `runtime_dir` (bwrap's too)."""
    from hyperhive.runtime.local import LocalConfig
    from hyperhive.runtime.process import ProcessRuntime

    async def destroy_all() -> None:
        runtime = ProcessRuntime(LocalConfig(runtime_dir))
        for handle in await runtime.handles():
            await runtime.adopt(handle)
            await runtime.destroy(handle, timeout=5)

    asyncio.run(destroy_all())


def reap_sandboxes(root: Path) -> None:
    """Destroy the sandboxes of every hive that kept its runtime dir under `root`: a test whose hives ran
    in-process (a node, a cluster) and ended without destroying its agents must not leave keepers running."""
    for sandboxes in root.glob("**/sandboxes"):
        if sandboxes.is_dir() and any(sandboxes.iterdir()):
            destroy_sandboxes(sandboxes.parent)


def replies_from(hive: HiveProcess, sender: str) -> list[dict[str, Any]]:
    """What `sender` sent to the operator, read or not (the operator's inbox on `hive`)."""
    inbox = hive.host.request("inbox", limit=20, unread_only=False)["messages"]
    return [m for m in inbox if m["sender"] == sender]


def all_acked(hive: HiveProcess, recipients: tuple[str, ...], count: int) -> bool:
    """Exactly `count` messages went to `recipients`, and each was acked (its turn ended)."""
    mail = [m for m in hive.host.request("recent", limit=50)["messages"] if m["recipient"] in recipients]
    return len(mail) == count and all(m["acked_at"] for m in mail)
