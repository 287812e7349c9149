"""The keeper's directory, `<runtime_dir>/sandboxes/<name>/`, and atomic JSON files in it.

It is deliberately not the agent's socket dir (`<runtime_dir>/agents/<name>/`, which the sandbox sees at
/run/hive): a sandbox that could read or replace `keeper.json` could make the daemon signal a pid of its
choosing. Mode 0700: `launch.json` holds the agent's environment.

    spec.json     the SandboxSpec, written by create()
    launch.json   the keeper's orders for one run, written by start()
    lock          flock()ed by the live keeper for its whole life: no two keepers per sandbox
    keeper.json   written by the keeper once the sandbox runs: pids with start times, limits
    exit.json     written by the keeper (fsynced) when the sandbox has ended, just before it exits
    keeper.err    the keeper's own stderr
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from .base import LimitReportRecord
from .limits import LimitPlanRecord


class Identity(TypedDict):
    """The agent's own uid for a sandbox that drops root (identity.py), and the sources it stages."""

    uid: int
    gid: int
    stage: list[str]


class KeeperOrders(TypedDict):
    """launch.json: one run's orders, written by start() for the keeper."""

    name: str
    mode: str  # bwrap, process
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log_path: str
    log_max_bytes: int
    log_backups: int
    limits: LimitPlanRecord
    identity: NotRequired[Identity]


class KeeperState(TypedDict):
    """keeper.json, written by the keeper once its sandbox runs (its ready line says the same)."""

    keeper_pid: int
    keeper_start: int | None
    sandbox_pid: int
    sandbox_start: int | None
    started_at: float
    mode: str
    log_path: str
    limits: LimitReportRecord


@dataclass(frozen=True)
class KeeperFiles:
    dir: Path

    @property
    def spec(self) -> Path:
        return self.dir / "spec.json"

    @property
    def launch(self) -> Path:
        return self.dir / "launch.json"

    @property
    def lock(self) -> Path:
        return self.dir / "lock"

    @property
    def keeper(self) -> Path:
        return self.dir / "keeper.json"

    @property
    def exit(self) -> Path:
        return self.dir / "exit.json"

    @property
    def err(self) -> Path:
        return self.dir / "keeper.err"


def write_json(path: Path, data: Any) -> None:
    """Write-then-rename with fsync of the file and its directory: a reader sees the old file or the whole
    new one, and the new one survives a crash of the host right after."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(data, sort_keys=True).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: Path) -> Any | None:
    """The file's JSON, or None if it does not exist (or is not JSON: never half-written, see write_json,
    so that only happens to a file someone else wrote)."""
    try:
        return json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
