"""The agent's one Claude session id, kept in its state dir so a restarted harness resumes it."""

from __future__ import annotations

import json
import os
from pathlib import Path


class SessionFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / ".hive" / "session.json"

    def load(self) -> str | None:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        value = data.get("session_id") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else None

    def save(self, session_id: str | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"session_id": session_id}))
        os.replace(tmp, self.path)  # a crash mid-write leaves the old id, never half a file
