"""`hive-ag3nt`: the per-agent harness (turn loop, MCP tools, peer serve mode)."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """hive-ag3nt: an agent's body — connects to the hive through its socket."""


if __name__ == "__main__":
    main()
