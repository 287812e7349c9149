"""Peers: `hive-ag3nt serve` keeps a peer present across daemon restarts and tells it of new mail;
`hive-ag3nt` runs without the daemon's dependencies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.hive import HiveProcess, wait_for

# starlette and uvicorn come with the `mcp` SDK itself, so they are not the daemon's alone.
DAEMON_ONLY = ("jinja2", "hyperhive.core", "hyperhive.web", "hyperhive.store", "hyperhive.broker")


@contextmanager
def serving(hive: HiveProcess, name: str, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "hyperhive.cli.ag3nt", "serve", "--socket",
                             str(hive.agent_socket(name)), "--heartbeat", "0.5", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def row(hive: HiveProcess, name: str) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=[name])["agent_statuses"][0])


def test_serve_keeps_presence_and_comes_back_after_a_daemon_kill9(hive_proc: HiveProcess, short_tmp: Path) -> None:
    registered = hive_proc.host.request("register_peer", name="pat", description="a person's container")
    assert registered["bind_mount"].endswith(":/run/hive")
    assert row(hive_proc, "pat")["state"] == "offline"
    heard = short_tmp / "heard"
    hook = f'echo "$HIVE_MAIL_ID $HIVE_MAIL_FROM $HIVE_MAIL_UNREAD $HIVE_MAIL_PREVIEW" >> {heard}'
    with serving(hive_proc, "pat", "--on-mail", hook):
        wait_for(lambda: row(hive_proc, "pat")["state"] == "online")
        sent = hive_proc.host.request("send", to="pat", body="lunch at noon?")
        # The hook's `>>` creates the file before echo writes to it: wait for a whole line, not the name.
        wait_for(lambda: heard.exists() and heard.read_text().endswith("\n"))
        assert heard.read_text().split(maxsplit=3) == [str(sent["id"]), "operator", "1", "lunch at noon?\n"]
        hive_proc.kill9()
        hive_proc.start()
        wait_for(lambda: row(hive_proc, "pat")["state"] == "online")  # it reconnected by itself
        assert row(hive_proc, "pat")["unread"] == 1  # serve never takes mail: it waits for the person
        hive_proc.host.request("send", to="pat", body="second")
        wait_for(lambda: len(heard.read_text().splitlines()) == 2)
    wait_for(lambda: row(hive_proc, "pat")["state"] == "offline")  # a hang-up is noticed at once


def test_the_harness_cli_needs_none_of_the_daemons_dependencies() -> None:
    """What a peer's container installs: `pip install hyperhive` without the `daemon` extra."""
    blocker = ("import sys\n"
               f"for name in {DAEMON_ONLY!r}:\n"
               "    sys.modules[name] = None\n"
               "from hyperhive.cli.ag3nt import main\n"
               "import hyperhive.agent.serve, hyperhive.agent.tools\n"
               "main(['--help'])\n")
    result = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout and "mcp" in result.stdout
