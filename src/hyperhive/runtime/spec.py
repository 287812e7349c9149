"""What to run: a `SandboxSpec` is a plain value that every backend reads the same way (bubblewrap and the
plain process today; systemd-nspawn, podman or a cluster scheduler later), so nothing above the runtime
changes with the backend. It holds host paths already resolved and checked (see
`config.host_policy.resolve_bind_source`); the runtime only refuses what would break the sandbox itself."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import SandboxSpecError

Network = Literal["private", "host"]

# Where an isolating backend shows the agent's state dir (also its HOME and cwd) and its socket dir.
SANDBOX_HOME = "/hive/state"
SANDBOX_SOCKETS = "/run/hive"
# Mount targets a bind mount may not take: the sandbox's own trees. The home itself (and /hive) may not be
# covered either; a mount *inside* the home is allowed (a project checkout, say).
RESERVED_TARGETS = ("/run/hive", "/proc", "/sys", "/dev")
SHADOWING_TARGETS = ("/", "/hive", SANDBOX_HOME)


@dataclass(frozen=True)
class Mount:
    """A host path visible inside the sandbox. `source` must be resolved (symlinks followed) by the
    caller; the runtime mounts exactly that path."""

    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class Limits:
    """Resource limits; None leaves that resource unlimited."""

    memory_mb: int | None = None
    """Memory in MiB."""
    cpu_percent: int | None = None
    """CPU in percent of one core (200 = two cores)."""
    pids: int | None = None
    """Processes and threads."""

    def asked(self) -> dict[str, int]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a backend needs to run one agent. `argv` and `env` are as the sandbox sees them: build
    them with `Runtime.view()` (an isolating backend shows the state dir at /hive/state, the plain process
    backend at its host path)."""

    name: str
    """The agent's name (already validated: it reaches paths)."""
    argv: tuple[str, ...]
    """The command to run inside the sandbox."""
    state_dir: Path
    """The agent's persistent home on the host; read-write, and HOME and the working directory inside."""
    socket_dir: Path
    """Host `<runtime_dir>/agents/<name>/`; read-only at /run/hive (connecting to a socket needs no
    write access to its directory)."""
    log_path: Path
    """Host path of the harness log (the command's stdout and stderr, rotated by size)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The whole environment of the command (nothing is inherited); HOME is set to the home."""
    ro_paths: tuple[Path, ...] = ()
    """Extra host paths shown read-only at the same path: the Python venv, the Claude CLI's install dir."""
    mounts: tuple[Mount, ...] = ()
    """Bind mounts from agent.toml, sources resolved."""
    limits: Limits = Limits()
    network: Network = "private"
    """`private`: own network namespace with only `lo`; `host`: the host's network."""
    image: Path | None = None
    """The root of an image (hyperhive.images) to show as the sandbox's system; None: the host's /usr."""

    def to_dict(self) -> dict[str, object]:
        """spec.json: the fields as JSON values (paths as strings), read back by `from_dict`."""
        return {key: _stringify(value) for key, value in {**asdict(self), "env": dict(self.env)}.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxSpec:
        return cls(
            name=data["name"],
            argv=tuple(data["argv"]),
            state_dir=Path(data["state_dir"]),
            socket_dir=Path(data["socket_dir"]),
            log_path=Path(data["log_path"]),
            env=dict(data["env"]),
            ro_paths=tuple(Path(p) for p in data["ro_paths"]),
            mounts=tuple(Mount(Path(m["source"]), m["target"], m["writable"]) for m in data["mounts"]),
            limits=Limits(**data["limits"]),
            network=data["network"],
            image=Path(data["image"]) if data.get("image") else None,
        )


def check_spec(spec: SandboxSpec) -> None:
    """Refuse a spec no backend should run: raise SandboxSpecError naming the field at fault."""
    if not spec.argv:
        raise SandboxSpecError(f"sandbox {spec.name!r}: argv is empty")
    if spec.network not in ("private", "host"):
        raise SandboxSpecError(f"sandbox {spec.name!r}: network must be 'private' or 'host'")
    for key, value in spec.env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise SandboxSpecError(f"sandbox {spec.name!r}: env {key!r} is not a valid variable")
    for path in (*spec.ro_paths, *(m.source for m in spec.mounts)):
        if not path.is_absolute() or not path.exists():
            raise SandboxSpecError(f"sandbox {spec.name!r}: host path {str(path)!r} does not exist")
    for index, mount in enumerate(spec.mounts):
        problem = target_problem(mount.target)
        if problem:
            raise SandboxSpecError(f"sandbox {spec.name!r}: mounts[{index}] target {problem}")


def target_problem(target: str) -> str | None:
    """Why a bind mount may not go to `target` inside the sandbox, or None."""
    if not target.startswith("/") or ".." in target.split("/") or "\0" in target:
        return f"{target!r} must be an absolute path without '..'"
    normal = posixpath.normpath("/" + target.lstrip("/"))  # "//proc" is "/proc" to the kernel
    if normal in SHADOWING_TARGETS:
        return f"{target!r} would cover the sandbox's root or home"
    for reserved in RESERVED_TARGETS:
        if normal == reserved or normal.startswith(reserved + "/"):
            return f"{target!r} is reserved for the sandbox itself ({reserved})"
    return None


def _stringify(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _stringify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify(item) for item in value]
    return value
