"""Host settings, each defined once: name, environment variable, default, help. The CLI flags, the
docs table (docs/settings.md) and a docs test all read this table (datasette's SETTINGS is the model)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    help: str
    default: Callable[[bool], str]  # argument: system mode (run as a system service)


def _state_default(system: bool) -> str:
    if system:
        return "/var/lib/hyperhive"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "hyperhive")


def _runtime_default(system: bool) -> str:
    if system:
        return "/run/hyperhive"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return str(Path(xdg) / "hyperhive") if xdg else f"/tmp/hyperhive-{os.getuid()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("state_dir", "HYPERHIVE_STATE_DIR",
            "Durable state: hive.db, agents' config repos, applied repos, agents' homes.", _state_default),
    Setting("runtime_dir", "HYPERHIVE_RUNTIME_DIR",
            "Sockets: host.sock and agents/<name>/mcp.sock.", _runtime_default),
    Setting("dashboard", "HYPERHIVE_DASHBOARD",
            "Dashboard address host:port (off: no dashboard); loopback unless TLS or a proxy is configured.",
            lambda system: "127.0.0.1:7000"),
    Setting("runtime", "HYPERHIVE_RUNTIME",
            "Sandbox backend for managed agents: bwrap (default) or process (no isolation).",
            lambda system: "bwrap"),
    Setting("manager", "HYPERHIVE_MANAGER",
            "on: create hm1nd, the manager agent, from its built-in config on first start; off: no manager.",
            lambda system: "on"),
    Setting("claude_bin", "HYPERHIVE_CLAUDE",
            "Path of the Claude Code CLI the harness runs (default: the one scripts/setup installs, else PATH).",
            lambda system: ""),
    Setting("database", "HYPERHIVE_DATABASE",
            "Where the hive's state lives: empty for SQLite in the state dir (one host), or a postgresql:// URL "
            "shared by the nodes of one hive.", lambda system: ""),
    Setting("node", "HYPERHIVE_NODE",
            "This host's node name in a hive on PostgreSQL (default: the host name).",
            lambda system: os.uname().nodename.split(".")[0].lower()),
    Setting("node_timeout", "HYPERHIVE_NODE_TIMEOUT",
            "Seconds without a heartbeat after which a node counts as offline (its agents show node_offline) and "
            "its leader lease runs out; nodes beat every third of it.", lambda system: "15"),
    Setting("retention_days", "HYPERHIVE_RETENTION_DAYS",
            "Days delivered and acked mail and non-audit events are kept (approvals, questions and undelivered "
            "mail are kept for good).", lambda system: "30"),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class HiveSettings:
    state_dir: Path
    runtime_dir: Path
    dashboard: str
    runtime: str
    claude_bin: str
    manager: str = "on"
    database: str = ""
    node: str = "local"
    retention_days: float = 30.0
    node_timeout: float = 15.0

    @property
    def host_socket(self) -> Path:
        return self.runtime_dir / "host.sock"

    @property
    def db_path(self) -> Path:
        return self.state_dir / "hive.db"

    def agent_socket_dir(self, name: str) -> Path:
        """`name` must already be validated (check_agent_name)."""
        return self.runtime_dir / "agents" / name


def load_settings(
    overrides: Mapping[str, str | None] | None = None,
    *,
    system: bool = False,
    environ: Mapping[str, str] | None = None,
) -> HiveSettings:
    """Flag, then environment variable, then default."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for setting in SETTINGS:
        given = (overrides or {}).get(setting.name)
        values[setting.name] = given or env.get(setting.env) or setting.default(system)
    return HiveSettings(
        state_dir=Path(values["state_dir"]).absolute(),
        runtime_dir=Path(values["runtime_dir"]).absolute(),
        dashboard=values["dashboard"],
        runtime=values["runtime"],
        claude_bin=values["claude_bin"],
        manager=values["manager"],
        database=values["database"],
        node=values["node"],
        retention_days=_positive("retention_days", values["retention_days"], "days"),
        node_timeout=_positive("node_timeout", values["node_timeout"], "seconds"),
    )


def _positive(name: str, text: str, unit: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise ValueError(f"{name} must be a positive number of {unit}, not {text!r}")
    return number
