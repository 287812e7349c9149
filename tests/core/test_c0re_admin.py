"""`hive-c0re` speaks the original's admin verbs (issue 20): the migration note's `hive-c0re register-peer
damocles`, typed as written, works against a running daemon; every such verb is the very command object
`hivectl` has (one implementation), and `hive-c0re serve` is `run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hyperhive.cli import c0re, hivectl
from hyperhive.cli._ctl import pick_socket
from tests.support.hive import HiveProcess

# The original daemon CLI's admin verbs, as its users type them (the list in issue 20).
ORIGINAL_ADMIN_VERBS = ["register-peer", "unregister-peer", "list", "pending", "approve", "deny", "spawn",
                        "request-spawn", "kill", "rebuild", "destroy"]


def c0re_cli(hive: HiveProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`hive-c0re ARGS` as a user runs it on the hive's host: the runtime dir from the environment."""
    env = {**hive.env, "HYPERHIVE_RUNTIME_DIR": str(hive.settings.runtime_dir)}
    return subprocess.run([sys.executable, "-m", "hyperhive.cli.c0re", *args], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("verb", ORIGINAL_ADMIN_VERBS)
def test_each_original_admin_verb_is_one_command_shared_by_both_clis(verb: str) -> None:
    assert verb in c0re.main.commands, f"hive-c0re has no {verb!r}"
    assert c0re.main.commands[verb] is hivectl.main.commands[verb], f"{verb!r} is defined twice"


def test_serve_is_run() -> None:
    assert c0re.main.commands["serve"] is c0re.main.commands["run"]


@pytest.fixture
def served(short_tmp: Path) -> HiveProcess:
    """A daemon started with the original's verb, `hive-c0re serve`."""
    hive = HiveProcess(short_tmp, verb="serve")
    hive.start()
    yield hive  # type: ignore[misc]
    hive.stop()


def test_register_peer_damocles_as_the_note_types_it(served: HiveProcess) -> None:
    out = c0re_cli(served, "register-peer", "damocles", "--description", "a day-job Claude Code container")
    assert out.returncode == 0, out.stderr
    socket_dir = served.settings.agent_socket_dir("damocles")
    assert f"{socket_dir}:/run/hive" in out.stdout and (socket_dir / "mcp.sock").is_socket()
    assert c0re_cli(served, "list").stdout.split() == ["damocles"]
    row = served.host.request("agent_status", names=["damocles"])["agent_statuses"][0]
    assert (row["kind"], row["description"]) == ("peer", "a day-job Claude Code container")

    for verb in ("kill", "rebuild", "destroy"):  # the hive does not own a peer's lifecycle
        refused = c0re_cli(served, verb, "damocles", *(["--yes"] if verb == "destroy" else []))
        assert refused.returncode == 5, (verb, refused.stderr)
        assert refused.stderr.startswith("hive-c0re: damocles is a peer: the hive does not own its lifecycle")

    again = c0re_cli(served, "register-peer", "damocles")
    assert again.returncode == 6 and again.stderr == "hive-c0re: an agent named 'damocles' already exists\n"
    assert c0re_cli(served, "unregister-peer", "damocles").returncode == 0
    assert c0re_cli(served, "--json", "list").stdout.strip() == "[]"


def test_request_spawn_pending_and_deny_with_a_note(served: HiveProcess) -> None:
    asked = c0re_cli(served, "request-spawn", "carol", "--description", "reads the build logs")
    assert asked.returncode == 0 and "(pending): spawn carol" in asked.stdout, asked.stderr
    approvals = json.loads(c0re_cli(served, "--json", "pending").stdout)
    assert [(a["kind"], a["agent"], a["status"], a["requested_by"]) for a in approvals] == [
        ("spawn", "carol", "pending", "operator")]
    shown = c0re_cli(served, "pending", "--status", "pending").stdout
    assert "spawn" in shown and "carol" in shown and "reads the build logs" in shown
    denied = c0re_cli(served, "deny", str(approvals[0]["id"]), "--note", "not this week")
    assert denied.returncode == 0 and f"denied #{approvals[0]['id']}" in denied.stdout
    assert json.loads(c0re_cli(served, "--json", "pending").stdout)[0]["note"] == "not this week"
    assert "carol" not in served.host.request("list")["agents"]
    missing = c0re_cli(served, "approve", "999")
    assert missing.returncode == 4 and missing.stderr.startswith("hive-c0re: ")


def test_request_spawn_then_approve_creates_the_agent(served: HiveProcess) -> None:
    approval = json.loads(c0re_cli(served, "--json", "request-spawn", "carol").stdout)
    done = c0re_cli(served, "approve", str(approval["id"]))
    assert done.returncode == 0 and f"approved #{approval['id']} (spawn for carol)" in done.stdout
    assert "carol" in c0re_cli(served, "list").stdout.split()
    assert c0re_cli(served, "kill", "carol").returncode == 0  # a managed agent: its lifecycle is the hive's
    purged = c0re_cli(served, "destroy", "carol", "--purge", "--yes")
    assert purged.returncode == 0 and "carol" not in c0re_cli(served, "list").stdout.split()


def test_the_system_service_socket_is_found_when_this_user_has_no_hive(short_tmp: Path) -> None:
    mine, system = short_tmp / "mine" / "host.sock", short_tmp / "system" / "host.sock"
    assert pick_socket(mine, system) == mine  # neither: errors name this user's
    system.parent.mkdir()
    system.touch()
    assert pick_socket(mine, system) == system
    mine.parent.mkdir()
    mine.touch()
    assert pick_socket(mine, system) == mine
