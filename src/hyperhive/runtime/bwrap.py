"""The bubblewrap backend, default on Linux: own pid, ipc, uts, cgroup (and with `network = "private"`
net) namespaces, no capabilities, and a root of its own where only these exist:

    /usr, /bin, /lib*, /etc, /var     read-only from the agent's image (rootfs.py, docs/images.md);
                                      without one, /usr, /bin, /lib* and bits of /etc from the host
    spec.ro_paths                     read-only at the same path (the venv, the Claude CLI)
    /hive/state                       the agent's state dir, read-write; HOME and cwd
    /run/hive                         the agent's socket dir, read-only (connecting needs no write)
    spec.mounts                       as given, ro or rw
    /proc, /dev, /tmp                 the sandbox's own (/tmp a private tmpfs)

The root itself is remounted read-only. The environment is exactly the spec's plus HOME (bwrap adds PWD).

Run by root, the sandbox runs under the agent's own unprivileged uid (identity.py): bwrap itself is started
as that uid, in a user namespace of its own (`unprivileged_argv`), so nothing in it is root on the host.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
from pathlib import Path

from ._files import KeeperOrders
from .base import SandboxView
from .errors import RuntimeUnavailable
from .identity import STAGE, agent_uid, drops_root, hand_over, share_socket
from .limits import LimitPlan
from .local import KeeperRuntime, LocalConfig
from .paths import SYSTEM_DIRS, SYSTEM_ETC
from .rootfs import image_root_mounts
from .spec import SANDBOX_HOME, SANDBOX_SOCKETS, SandboxSpec

# The isolation every sandbox gets. --new-session: setsid() inside, so nothing can push input into a
# terminal of ours (TIOCSTI); the keeper signals by pid, never by process group, so no job control is lost.
# --cap-drop ALL: run by root, bwrap would otherwise leave the command every capability.
ISOLATION = ("--die-with-parent", "--new-session", "--cap-drop", "ALL", "--unshare-pid", "--unshare-ipc",
             "--unshare-uts", "--unshare-cgroup-try")


class BwrapRuntime(KeeperRuntime):
    kind = "bwrap"
    mode = "bwrap"

    def __init__(self, config: LocalConfig, bwrap: str | None = None) -> None:
        super().__init__(config)
        found = bwrap or shutil.which("bwrap")
        if not found:
            raise RuntimeUnavailable("bubblewrap (bwrap) is not installed; install it, or choose the process "
                                     "runtime explicitly (no isolation)")
        self.bwrap = found

    def view(self, state_dir: Path, socket_dir: Path) -> SandboxView:
        return SandboxView(SANDBOX_HOME, SANDBOX_SOCKETS)

    def _command(self, spec: SandboxSpec) -> tuple[list[str], dict[str, str], str]:
        # The environment reaches the command through bwrap's own (not --setenv: argv is world-readable).
        return bwrap_argv(self.bwrap, spec), {**spec.env, "HOME": SANDBOX_HOME}, "/"

    def _prepare(self, spec: SandboxSpec) -> None:
        """The agent's uid owns its home and its read-write mounts, and its group reaches its sockets."""
        if not drops_root():
            return
        uid = agent_uid(spec.name)
        hand_over(spec.state_dir, uid, uid)
        for mount in spec.mounts:
            if mount.writable:
                hand_over(mount.source, uid, uid)
        for sock in spec.socket_dir.glob("*.sock"):
            share_socket(sock, spec.name)

    def _orders(self, spec: SandboxSpec, plan: LimitPlan) -> KeeperOrders:
        orders = super()._orders(spec, plan)
        if drops_root():
            orders["argv"], stage = unprivileged_argv(orders["argv"])
            uid = agent_uid(spec.name)
            orders["identity"] = {"uid": uid, "gid": uid, "stage": stage}
        return orders


def bwrap_argv(bwrap: str, spec: SandboxSpec) -> list[str]:
    args = [bwrap, *ISOLATION, "--hostname", f"h-{spec.name}"]
    if spec.network == "private":
        args.append("--unshare-net")  # bwrap brings up lo; nothing else exists
    # /tmp first: a read-only path under /tmp must land on top of the tmpfs, not under it.
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    args += (image_root_mounts(spec.image, [mount.target for mount in spec.mounts]) if spec.image is not None
             else system_mounts())
    for path in spec.ro_paths:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(spec.state_dir), SANDBOX_HOME, "--ro-bind", str(spec.socket_dir), SANDBOX_SOCKETS]
    for mount in sorted(spec.mounts, key=lambda m: posixpath.normpath(m.target).count("/")):  # parents first
        args += ["--bind" if mount.writable else "--ro-bind", str(mount.source), posixpath.normpath(mount.target)]
    return [*args, "--remount-ro", "/", "--chdir", SANDBOX_HOME, "--", *spec.argv]


# bwrap options and how many arguments each takes (unprivileged_argv must walk the argv exactly).
_ARITY = {"--hostname": 1, "--proc": 1, "--dev": 1, "--tmpfs": 1, "--dir": 1, "--chdir": 1, "--remount-ro": 1,
          "--perms": 1, "--size": 1, "--unsetenv": 1, "--uid": 1, "--gid": 1, "--symlink": 2, "--setenv": 2,
          "--chmod": 2, "--bind": 2, "--ro-bind": 2, "--dev-bind": 2, "--bind-try": 2, "--ro-bind-try": 2,
          "--dev-bind-try": 2}
_FLAGS = frozenset({*ISOLATION, "--unshare-net", "--unshare-user", "--disable-userns", "--unshare-all",
                    "--share-net", "--clearenv", "--as-pid-1"})
_BINDS = frozenset({"--bind", "--ro-bind", "--dev-bind", "--bind-try", "--ro-bind-try", "--dev-bind-try"})


def unprivileged_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """bwrap as the agent's own uid (identity.py): a user namespace of its own (and none inside it), every
    bind source read from the stage (`/tmp/<i>`, prepared as root by the keeper) since the agent's uid may
    not reach the source's path. Returns the argv and the sources to stage, in order. This is the one place
    the uid change touches bwrap's arguments."""
    out, i = [argv[0], "--unshare-user", "--disable-userns"], 1
    sources: list[str] = []
    while i < len(argv) and argv[i] != "--":
        option = argv[i]
        if option in _BINDS:
            source, target = argv[i + 1], argv[i + 2]
            if not (option.endswith("-try") and not os.path.exists(source)):
                out += [option, f"{STAGE}/{len(sources)}", target]
                sources.append(source)
        elif option in _ARITY:
            out += argv[i:i + 1 + _ARITY[option]]
        elif option in _FLAGS:
            out.append(option)
        else:
            raise ValueError(f"unprivileged_argv does not know the bwrap option {option!r}: add it to _ARITY")
        i += 1 + _ARITY.get(option, 0)
    return out + argv[i:], sources


def system_mounts() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SYSTEM_ETC:
        if os.path.exists(path):  # a symlink is followed: its target's dir is not in the sandbox
            args += ["--ro-bind", path, path]
    return args


def probe_bwrap(bwrap: str | None = None) -> str | None:
    """None if bwrap can create this backend's namespaces here, else what it said (or why it is missing)."""
    found = bwrap or shutil.which("bwrap")
    if not found:
        return "bwrap is not installed"
    argv = [found, *ISOLATION, "--unshare-net", *system_mounts(), "--proc", "/proc", "--dev", "/dev",
            "--", "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    return None if done.returncode == 0 else (done.stderr.strip() or f"bwrap exited with code {done.returncode}")
