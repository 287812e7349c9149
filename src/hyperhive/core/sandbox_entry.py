"""How to enter a running agent's sandbox from the operator's terminal (`hivectl shell`, `hivectl login`).

The daemon answers with a command for hivectl to exec in its own terminal: `nsenter` into the namespaces
of the sandbox's first process (each namespace that differs from the daemon's: mount with its root, pid,
ipc, uts, cgroup, network, user), then `setpriv` to drop every capability as bubblewrap did, then the
command in its home. hivectl gives it the sandbox's environment, read from /proc/<pid>/environ (so the
agent's secrets never cross the socket), plus `env`: the Claude CLI's settings, on the agent's own config
dir. So the shell sees what the agent sees: its mounts,
its processes, its network, /run/hive. With the plain process runtime there is nothing to enter: the
command runs in the agent's state dir with its environment.

Entering namespaces takes the rights the daemon has over the sandbox (root, or the hive's own user for a
sandbox in a user namespace); hivectl runs the command, so it needs them too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hyperhive.agent.claude_driver import default_env
from hyperhive.config.settings import HiveSettings
from hyperhive.protocol import ErrorCode, HiveError
from hyperhive.runtime.base import Runtime, SandboxState

from .sandbox_spec import agent_state_dir, claude_bin

# nsenter's flag for each namespace, in /proc/<pid>/ns/ names. `net` last: a login leaves it out.
NAMESPACES = {"user": "--user", "mnt": "--mount", "uts": "--uts", "ipc": "--ipc", "pid": "--pid",
              "cgroup": "--cgroup", "net": "--net"}
DROP_CAPS = ("--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all")
CLAUDE = "claude"


@dataclass(frozen=True)
class Entry:
    """What hivectl execs, in `cwd` (a host path), with the environment of process `pid` updated by `env`."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    pid: int


async def sandbox_entry(settings: HiveSettings, runtime: Runtime, name: str, command: list[str],
                        *, host_network: bool = False) -> Entry:
    """The way into `name`'s running sandbox to run `command` (a shell when empty; `claude` means the
    pinned CLI, on the agent's own config dir). `host_network`: stay in the host's network namespace (a
    login's token exchange needs the internet that a private sandbox does not have)."""
    pid = await _sandbox_pid(runtime, name)
    home = runtime.view(agent_state_dir(settings, name), settings.agent_socket_dir(name)).home
    env = default_env(Path(home))
    argv = _command(settings, command)
    if runtime.kind == "process":
        return Entry(argv, env, home, pid)
    flags = _namespace_flags(pid, host_network)
    enter = [_tool("nsenter"), f"--target={pid}", *flags, *_identity_flags(pid, flags), "--root"]
    # nsenter opens --wd before it enters the mount namespace; the home exists only inside, so cd there.
    into_home = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', home]
    return Entry([*enter, "--", _tool("setpriv"), *DROP_CAPS, "--", *into_home, *argv], env, "/", pid)


async def _sandbox_pid(runtime: Runtime, name: str) -> int:
    handle = next((h for h in await runtime.handles() if h.name == name), None)
    status = await runtime.status(handle) if handle is not None else None
    if status is None or status.state != SandboxState.RUNNING or status.pid is None:
        raise HiveError(ErrorCode.CONFLICT, f"{name} is not running: start it first (`hivectl start {name}`)")
    return status.pid


def _namespace_flags(pid: int, host_network: bool) -> list[str]:
    flags = []
    for ns, flag in NAMESPACES.items():
        if ns == "net" and host_network:
            continue
        try:
            theirs, ours = os.readlink(f"/proc/{pid}/ns/{ns}"), os.readlink(f"/proc/self/ns/{ns}")
        except OSError:
            continue  # a namespace this kernel does not have
        if theirs != ours:
            flags.append(flag)
    return flags


def _identity_flags(pid: int, flags: list[str]) -> list[str]:
    """Entering the agent's own user namespace (runtime/identity.py), become the agent's uid and gid there:
    nsenter's default, 0, is not mapped in it (setgid fails with EINVAL)."""
    if NAMESPACES["user"] not in flags:
        return []
    uid = _inside_id(pid, "Uid", "uid_map")
    gid = _inside_id(pid, "Gid", "gid_map")
    return [f"--setuid={uid}", f"--setgid={gid}"]


def _inside_id(pid: int, field: str, map_name: str) -> int:
    """The process's real uid (or gid) as its own user namespace names it."""
    with open(f"/proc/{pid}/status") as status:
        outside = next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))
    with open(f"/proc/{pid}/{map_name}") as mapping:
        for line in mapping:
            inside, first, count = (int(x) for x in line.split())
            if first <= outside < first + count:
                return inside + outside - first
    raise HiveError(ErrorCode.CONFLICT, f"{field.lower()} {outside} is not mapped in the sandbox of process {pid}")


def _command(settings: HiveSettings, command: list[str]) -> list[str]:
    if not command:
        return ["/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh", "-l"]
    if command[0] == CLAUDE:
        cli = claude_bin(settings)
        if cli is None:
            raise HiveError(ErrorCode.CONFLICT, "no Claude Code CLI is installed for the hive (scripts/setup)")
        return [str(cli), *command[1:]]
    return command


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if found is None:
        raise HiveError(ErrorCode.UNAVAILABLE, f"{name} is not installed (Debian package util-linux)")
    return found
