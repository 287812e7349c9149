"""Mail the model pulls with the `recv` tool during a turn, acked when the turn ends, not when it is read.

The `hyperhive` MCP server the turn's CLI starts reads with `ack: false` (the messages are then held by its
connection's lease) and appends their ids here before the model sees them; the harness acks them with the
turn's own message once the turn ended well. If the turn dies instead, the CLI and its MCP server die with
it, their connection closes and the hive hands the messages back to the inbox: they are delivered again.

One line of JSON ids per `recv`; a torn last line (a kill mid-write) is ignored, and its messages, never
acked, come back. The MCP server learns the path from `HYPERHIVE_TURN_LEDGER` in its mcp.json entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LEDGER_ENV = "HYPERHIVE_TURN_LEDGER"


def record_pulled(path: Path, ids: list[int]) -> None:
    """Append `ids` (the MCP server's side); written through before the tool returns to the model."""
    if not ids:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (json.dumps(ids) + "\n").encode())
    finally:
        os.close(fd)


class TurnLedger:
    """The harness's side: emptied when a turn starts, read when it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def pulled(self) -> list[int]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        ids: list[int] = []
        for line in lines:
            try:
                value = json.loads(line)
            except ValueError:
                continue  # torn by a kill: those messages were never acked, so they come back
            if isinstance(value, list):
                ids += [i for i in value if isinstance(i, int) and not isinstance(i, bool)]
        return ids
