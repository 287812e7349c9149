"""A peer's own container for tests: a bubblewrap sandbox the test starts itself (standing in for a
systemd-nspawn or podman container the hive does not run), which sees of the hive only the socket dir
the hive made for it, at /run/hive. Its init is a shell script the test gives (its "services")."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperhive.runtime import _proc
from hyperhive.runtime.bwrap import ISOLATION, system_mounts
from hyperhive.runtime.paths import python_paths
from tests.support.scripted_api import ScriptedApi


@dataclass(frozen=True)
class Bind:
    """One of the container's own bind mounts (what its declaration lists), host path to target."""

    host: Path
    target: str
    writable: bool = False


@dataclass
class Peer:
    home: Path
    bwrap: subprocess.Popen[bytes]

    def serve_pid(self) -> int:
        """The host pid of `hive-ag3nt serve` inside the container."""
        for pid in descendants(self.bwrap.pid):
            with contextlib.suppress(OSError):
                if b"\0serve\0" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        return 0

    def stop(self) -> None:
        if self.bwrap.poll() is None:
            self.bwrap.kill()
        self.bwrap.wait(10)


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        children = _proc.children(todo.pop())
        found += children
        todo += children
    return found


def cli_root(claude_bin: str) -> Path:
    """The CLI's whole install (its launcher is a symlink into node_modules)."""
    resolved = Path(os.path.realpath(claude_bin))
    return next((p.parent for p in resolved.parents if p.name == "node_modules"), resolved.parent)


def start_peer(home: Path, socket_dir: Path, api: ScriptedApi, claude_bin: str, init: str, *,
               home_target: str = "/home/pat", hostname: str = "pats-box", binds: Sequence[Bind] = (),
               private_network: bool = True) -> Peer:
    """The person's container: only /usr (and bits of /etc), the Python and CLI it runs, the API's socket
    dir, its own home (with a `go` FIFO and an `mcp.json` naming `hive-ag3nt mcp`), its `binds`, and the
    hive's socket dir for it at /run/hive; its own network namespace unless `private_network` is false."""
    home.mkdir()
    os.mkfifo(home / "go")
    venv_bin = Path(sys.prefix) / "bin"
    mcp = {"mcpServers": {"hyperhive": {"type": "stdio", "command": str(venv_bin / "hive-ag3nt"),
                                        "args": ["mcp", "--socket", "/run/hive/mcp.sock"]}}}
    (home / "mcp.json").write_text(json.dumps(mcp))
    assert api.unix_socket is not None
    ro = [*python_paths(), cli_root(claude_bin), api.unix_socket.parent]
    argv = ["bwrap", *ISOLATION, *(["--unshare-net"] if private_network else []), "--hostname", hostname,
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", *system_mounts()]
    for path in ro:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(home), home_target, "--ro-bind", str(socket_dir), "/run/hive"]
    for bind in binds:
        argv += ["--bind" if bind.writable else "--ro-bind", str(bind.host), bind.target]
    argv += ["--remount-ro", "/", "--chdir", home_target, "--", "/bin/sh", "-c", init]
    cli_bin = os.path.realpath(Path(claude_bin).parent)  # the launcher's dir inside cli_root (.tools may be a link)
    env = {"PATH": f"{venv_bin}:{cli_bin}:/usr/bin:/bin", "HOME": home_target, "LANG": "C.UTF-8",
           "CLAUDE_CONFIG_DIR": f"{home_target}/.claude", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_AUTOUPDATER": "1", "ENABLE_TOOL_SEARCH": "false", "CLAUDE_CODE_MAX_RETRIES": "0",
           **api.unix_env()}
    log = (home.parent / f"{home.name}.log").open("wb")
    with log:
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    return Peer(home, process)


@contextlib.contextmanager
def hive_with_unix_api(root: Path, claude_bin: str) -> Iterator[tuple[Any, ScriptedApi]]:
    """A hive-c0re running bubblewrap agents, and the scripted API on a Unix socket that both the hive's
    agents and a peer's container reach (the world of the peer tests)."""
    from tests.core.test_sandboxed_agents import end_hive, start_hive
    from tests.support.needs import require_bwrap
    from tests.support.reaper import acting_as_init

    require_bwrap()
    (root / "api").mkdir()
    with acting_as_init(), ScriptedApi(unix_socket=root / "api" / "api.sock") as api:
        hive = start_hive(root / "hive", {"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                          **api.unix_env()})
        try:
            yield hive, api
        finally:
            end_hive(hive)
