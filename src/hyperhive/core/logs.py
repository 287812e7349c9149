"""Where an agent's harness log lives, and reading its tail. The runtime writes it (rotated by size) in
the state dir but outside the agent's home, so an agent can read its log through the hive but not edit it."""

from __future__ import annotations

from collections import deque
from pathlib import Path

from hyperhive.protocol import check_agent_name


def agent_log_dir(state_dir: Path, name: str) -> Path:
    return state_dir / "logs" / check_agent_name(name)


def agent_log_path(state_dir: Path, name: str) -> Path:
    return agent_log_dir(state_dir, name) / "harness.log"


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines across the rotated files (`harness.log.1` is older than `harness.log`)."""
    files = [*sorted(path.parent.glob(path.name + ".*"), key=_rotation_index, reverse=True), path]
    last: deque[str] = deque(maxlen=count)
    for file in files:
        if file.is_file():
            with file.open(errors="replace") as handle:
                last.extend(line.rstrip("\n") for line in handle)
    return list(last)


def _rotation_index(path: Path) -> int:
    suffix = path.name.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0
