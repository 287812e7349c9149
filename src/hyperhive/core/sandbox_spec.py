"""From an agent's deployed config to the sandbox that runs its harness.

The harness inside sees: its home (state dir) read-write, its socket dir (with the deployed agent.toml
next to `mcp.sock`) read-only at /run/hive, and read-only the Python that runs hyperhive and the Claude
CLI. The Claude API reaches every sandbox only through the gateway's socket in its socket dir
(`ANTHROPIC_UNIX_SOCKET=/run/hive/api.sock`), whatever its network."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import hyperhive
from hyperhive.config import AgentConfig, HostPolicy, effective_limits, effective_network, resolve_bind_source
from hyperhive.config.settings import HiveSettings
from hyperhive.gateway.credentials import ADDRESS_VARS, CREDENTIAL_VARS
from hyperhive.protocol import MANAGER_NAME
from hyperhive.runtime.base import Runtime
from hyperhive.runtime.spec import Limits, Mount, SandboxSpec

from .agent_sockets import AGENT_SOCKET, MANAGER_SOCKET
from .logs import agent_log_path

AGENT_TOML = "agent.toml"
MANAGER_CONFIGS = "/hive/configs"
MANAGER_APPLIED = "/hive/applied"
# What the brain may inherit from the daemon's environment: the API's address and key, the CLI's switches.
PASSTHROUGH_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_", "CLAUDE_", "HYPERHIVE_TURN_TIMEOUT",
                        "HYPERHIVE_RATE_LIMIT_BACKOFF", "HYPERHIVE_CLAUDE_PROCESS", "HYPERHIVE_CLAUDE_IDLE_SECONDS")
# ... except the hive's credentials and the API's address: those stay with the gateway.
WITHHELD = frozenset({*CREDENTIAL_VARS, *ADDRESS_VARS})
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def agent_state_dir(settings: HiveSettings, name: str) -> Path:
    return settings.state_dir / "agents" / name / "state"


def claude_bin(settings: HiveSettings) -> Path | None:
    configured = settings.claude_bin or _pinned_cli() or shutil.which("claude")
    if not configured:
        return None
    # Its directory resolved: a sandbox sees the CLI's install at its real path, not through a symlink on
    # the way (`.tools` may be one); the launcher itself stays a link inside that install.
    launcher = Path(configured).absolute()
    return Path(os.path.realpath(launcher.parent)) / launcher.name


def _pinned_cli() -> str | None:
    """The CLI scripts/setup installs next to the source tree (.tools/claude)."""
    candidate = Path(hyperhive.__file__).resolve().parents[2] / ".tools" / "claude" / "node_modules" / ".bin" / "claude"
    return str(candidate) if candidate.exists() else None


def harness_spec(settings: HiveSettings, runtime: Runtime, config: AgentConfig, policy: HostPolicy,
                 environ: Mapping[str, str], protected: tuple[Path, ...] = (),
                 api_env: Callable[[str], Mapping[str, str]] | None = None, image: Path | None = None) -> SandboxSpec:
    """`api_env`: how the agent reaches the Claude API, given its socket dir as the sandbox sees it (the
    hive's gateway socket in it, whatever the network). The daemon's own API address and credentials are
    never passed on. `image`: the image root the sandbox runs on (hyperhive.images), None for the host's
    system."""
    name = config.name
    state = agent_state_dir(settings, name)
    sockets = settings.agent_socket_dir(name)
    view = runtime.view(state, sockets)
    cli = claude_bin(settings)
    socket = MANAGER_SOCKET if name == MANAGER_NAME else AGENT_SOCKET  # the manager's carries its extra verbs
    argv = [sys.executable, "-m", "hyperhive.cli.ag3nt", "run", "--socket", f"{view.sockets}/{socket}",
            "--state-dir", view.home, "--config", f"{view.sockets}/{AGENT_TOML}"]
    if cli is not None:
        # Only the CLI's real install is bound (_cli_root): name the launcher by its real directory, so a
        # CLI reached through a symlinked directory (e.g. a .tools symlink) is found inside the sandbox.
        argv += ["--claude", str(Path(os.path.realpath(cli.parent)) / cli.name)]
    env = {key: value for key, value in environ.items()
           if key.startswith(PASSTHROUGH_PREFIXES) and key not in WITHHELD}
    network = effective_network(config, policy)
    if api_env is not None:
        env |= api_env(view.sockets)
    env |= {"PATH": BASE_PATH, "LANG": environ.get("LANG", "C.UTF-8"), "HOME": view.home, **config.env}
    ro = [Path(sys.prefix), Path(sys.base_prefix), _package_root()]
    if cli is not None:
        ro.append(_cli_root(cli))
    limits = effective_limits(config, policy)
    mounts = tuple(Mount(resolve_bind_source(m, policy, protected, agent=name), m.target, m.mode == "rw")
                   for m in config.bind_mounts)
    if name == MANAGER_NAME:
        extra, manager_env = manager_mounts(settings, isolated=view.home != str(state))
        mounts += extra
        env |= manager_env
    return SandboxSpec(
        name=name, argv=tuple(argv), state_dir=state, socket_dir=sockets,
        log_path=agent_log_path(settings.state_dir, name), env=env, ro_paths=_dedupe(ro), mounts=mounts,
        limits=Limits(memory_mb=limits.memory_mb, cpu_percent=limits.cpu_percent, pids=limits.pids),
        network=network, image=image)


def manager_mounts(settings: HiveSettings, isolated: bool) -> tuple[tuple[Mount, ...], dict[str, str]]:
    """hm1nd sees every agent's proposed repo read-write and the applied repos read-only (new agents'
    repos appear inside the bound dirs as they are made); the paths reach its tools as HIVE_CONFIGS_DIR
    and HIVE_APPLIED_DIR."""
    configs, applied = settings.state_dir / "configs", settings.state_dir / "applied"
    configs.mkdir(parents=True, exist_ok=True)
    applied.mkdir(parents=True, exist_ok=True)
    if not isolated:
        return (), {"HIVE_CONFIGS_DIR": str(configs), "HIVE_APPLIED_DIR": str(applied)}
    mounts = (Mount(configs, MANAGER_CONFIGS, True), Mount(applied, MANAGER_APPLIED, False))
    return mounts, {"HIVE_CONFIGS_DIR": MANAGER_CONFIGS, "HIVE_APPLIED_DIR": MANAGER_APPLIED}


def _package_root() -> Path:
    """Where `hyperhive` is imported from (the source tree of an editable install, or site-packages)."""
    return Path(hyperhive.__file__).resolve().parents[1]


def _cli_root(cli: Path) -> Path:
    """The CLI's whole install (node_modules), not just its launcher: the launcher is a symlink."""
    resolved = Path(os.path.realpath(cli))
    for parent in resolved.parents:
        if parent.name == "node_modules":
            return parent.parent
    return resolved.parent


def _dedupe(paths: list[Path]) -> tuple[Path, ...]:
    kept: list[Path] = []
    for path in sorted({p.resolve() for p in paths if p.exists()}, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in kept) and path != Path("/usr") and not path.is_relative_to("/usr"):
            kept.append(path)
    return tuple(kept)
