"""The plain-process backend: no isolation at all, only when chosen explicitly (`HYPERHIVE_RUNTIME=process`)
— for hosts without user namespaces, and for debugging. The agent runs as the daemon's user with the
daemon's view of the host. It still gets its own keeper, so it outlives the daemon like any sandbox, and its
command runs in its own session, killed with everything it left behind when it ends or is stopped."""

from __future__ import annotations

import functools
import getpass
from pathlib import Path

from .base import SandboxView
from .local import KeeperRuntime
from .spec import SandboxSpec


class ProcessRuntime(KeeperRuntime):
    kind = "process"
    mode = "process"

    @property
    def warning(self) -> str:
        return (f"the process runtime does not isolate: agents run as {_user()!r} and can read and "
                "change everything that user can on this host, and use its network")

    def view(self, state_dir: Path, socket_dir: Path) -> SandboxView:
        return SandboxView(str(state_dir), str(socket_dir))

    def _command(self, spec: SandboxSpec) -> tuple[list[str], dict[str, str], str]:
        return list(spec.argv), {**spec.env, "HOME": str(spec.state_dir)}, str(spec.state_dir)

    def _not_applied(self, spec: SandboxSpec) -> list[str]:
        found = []
        if spec.mounts:
            found.append("mounts: the process runtime mounts nothing; the agent sees host paths where they are")
        if spec.network == "private":
            found.append("network: 'private' cannot be applied by the process runtime; the agent uses the "
                         "host's network")
        return found


@functools.cache
def _user() -> str:
    """The daemon's user, looked up once: every status row asks for the warning (getpwuid is a file read)."""
    return getpass.getuser()
