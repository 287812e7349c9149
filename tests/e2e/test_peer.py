"""A peer end to end (issue 7): a container the hive does not run — here a bubblewrap sandbox this test
starts itself, which sees of the hive only its socket dir at /run/hive — runs `hive-ag3nt serve`, and its
own Claude Code (the real CLI, with `hive-ag3nt mcp` as its only MCP server) sends to a managed agent,
whose turn replies to the peer. Then the things a peer must survive: a lifecycle verb refused, a restart
of hive-c0re (a reconnect, nothing more), its container killed (offline at once), and unregistering (gone,
its messages kept)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.peer import hive_with_unix_api, start_peer
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = [pytest.mark.claude, pytest.mark.bwrap]

SEND = "mcp__hyperhive__send"
PEER_HOME = "/home/pat"
ALICE = """name = "alice"
description = "a managed agent who answers the peer"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = ["pat"]
network = "private"
"""
# The peer container's own init: presence and a mail hook, and its Claude Code run once on a prompt from
# the `go` FIFO (standing in for the person typing).
PEER_INIT = f"""hive-ag3nt serve --socket /run/hive/mcp.sock --heartbeat 1 \\
    --on-mail 'echo "$HIVE_MAIL_FROM: $HIVE_MAIL_PREVIEW" >> {PEER_HOME}/heard' &
read prompt < {PEER_HOME}/go
claude --print "$prompt" --model claude-scripted-1 --strict-mcp-config --mcp-config {PEER_HOME}/mcp.json \\
    --allowedTools mcp__hyperhive > {PEER_HOME}/claude.out 2>&1
echo $? > {PEER_HOME}/claude.rc.part && mv {PEER_HOME}/claude.rc.part {PEER_HOME}/claude.rc  # whole or absent
wait
"""


@pytest.fixture
def world(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    with hive_with_unix_api(short_tmp, claude_bin) as world:
        yield world


def row(hive: HiveProcess, name: str) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=[name])["agent_statuses"][0])


def mail_to(hive: HiveProcess, name: str) -> list[dict[str, object]]:
    return [m for m in hive.host.request("recent", limit=100)["messages"] if m["recipient"] == name]


def seen_at(hive: HiveProcess, name: str) -> float:
    return datetime.fromisoformat(str(row(hive, name)["last_seen"])).timestamp()


def test_a_peer_in_its_own_container_talks_to_a_managed_agent(
    world: tuple[HiveProcess, ScriptedApi], short_tmp: Path, claude_bin: str
) -> None:
    hive, api = world
    api.on("ask alice for the plan", reply.tool_use(SEND, {"to": "alice", "body": "pat asks: what is the plan?"}))
    api.on("pat asks: what is the plan?", reply.tool_use(SEND, {"to": "pat", "body": "the plan: ship it"}))
    api.on(after_tool(SEND), reply.text("sent"))

    registered = hive.host.request("register_peer", name="pat", description="Pat's own container")
    hive.host.request("spawn", name="alice", config=ALICE)
    peer = start_peer(short_tmp / "pat", Path(registered["socket_dir"]), api, claude_bin, PEER_INIT,
                      home_target=PEER_HOME)
    try:
        wait_for(lambda: row(hive, "pat")["state"] == "online", timeout=30)  # serve connected from inside
        status = row(hive, "pat")
        assert (status["kind"], status["running"]) == ("peer", True)

        (peer.home / "go").write_text("please ask alice for the plan\n")
        rc = wait_for(lambda: _read(peer.home / "claude.rc"), timeout=90)  # renamed into place: whole when seen
        assert rc.strip() == "0", (peer.home / "claude.out").read_text()
        replies = wait_for(lambda: [m for m in mail_to(hive, "pat") if m["sender"] == "alice"], timeout=90)
        assert replies[0]["body"] == "the plan: ship it"  # alice's turn answered the peer
        asked = [m for m in mail_to(hive, "alice") if m["sender"] == "pat"]
        assert asked and asked[0]["body"] == "pat asks: what is the plan?"  # sent as pat: the socket is its name
        wait_for(lambda: "alice: the plan: ship it" in _read(peer.home / "heard"), timeout=10)  # serve's hook
        assert row(hive, "pat")["unread"] == 1  # serve tells, never takes: the mail waits for the person

        refused = subprocess.run([sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir",
                                  str(hive.settings.runtime_dir), "restart", "pat"],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 5 and "does not own its lifecycle" in refused.stderr

        serve = peer.serve_pid()
        assert serve
        hive.kill9()
        restarted = time.time()
        hive.start()
        wait_for(lambda: row(hive, "pat")["state"] == "online" and seen_at(hive, "pat") >= restarted, timeout=30)
        assert peer.serve_pid() == serve and peer.bwrap.poll() is None  # a reconnect, nothing more
        hive.host.request("send", to="pat", body="still there?")
        wait_for(lambda: "operator: still there?" in _read(peer.home / "heard"), timeout=10)

        os.kill(peer.bwrap.pid, signal.SIGKILL)  # the container dies (--die-with-parent takes it all)
        killed = time.monotonic()
        wait_for(lambda: row(hive, "pat")["state"] == "offline", timeout=10)
        assert time.monotonic() - killed < 2, "a hang-up must end presence at once"
        assert row(hive, "pat")["running"] is False

        kept = {m["id"] for m in mail_to(hive, "pat")}
        hive.host.request("unregister_peer", name="pat")
        assert "pat" not in hive.host.request("list")["agents"]
        assert not Path(registered["socket_dir"]).exists()
        assert {m["id"] for m in mail_to(hive, "pat")} == kept and len(kept) == 2  # its messages stay
    finally:
        if peer.bwrap.poll() is None:
            peer.bwrap.kill()
        peer.bwrap.wait(10)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
