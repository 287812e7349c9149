"""hivectl as a user runs it: real processes, exit codes, tables and --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.hive import HiveProcess


def hivectl(hive_or_dir: HiveProcess | Path, *args: str) -> subprocess.CompletedProcess[str]:
    runtime = hive_or_dir.settings.runtime_dir if isinstance(hive_or_dir, HiveProcess) else hive_or_dir
    return subprocess.run([sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir", str(runtime), *args],
                          capture_output=True, text=True, timeout=30)


def test_daemon_down_is_one_clear_line_and_exit_69(short_tmp: Path) -> None:
    result = hivectl(short_tmp, "status")
    assert result.returncode == 69
    assert result.stderr.startswith("hivectl: no hive socket at")
    assert "not running" in result.stderr and result.stderr.count("\n") == 1


def test_register_send_status_inbox(hive_proc: HiveProcess) -> None:
    out = hivectl(hive_proc, "register-peer", "alice", "--description", "a test peer")
    assert out.returncode == 0 and "/run/hive" in out.stdout
    assert hivectl(hive_proc, "send", "alice", "hello", "there").stdout.strip() == "sent #1 to alice"
    table = hivectl(hive_proc, "status").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "KIND", "STATE"]
    assert table[1].split()[:3] == ["alice", "peer", "offline"]
    rows = json.loads(hivectl(hive_proc, "--json", "status").stdout)
    assert rows[0]["name"] == "alice" and rows[0]["unread"] == 1
    assert hivectl(hive_proc, "status", "alice").returncode == 3  # not running, like supervisorctl
    flow = hivectl(hive_proc, "flow").stdout
    assert "#1 operator → alice [queued]: hello there" in flow
    assert hivectl(hive_proc, "inbox").stdout.strip() == "no unread messages"


def test_operator_inbox_marks_read(hive_proc: HiveProcess) -> None:
    from tests.support.hive import AgentConn

    hivectl(hive_proc, "register-peer", "alice")
    with AgentConn(hive_proc.agent_socket("alice")) as conn:
        conn.request("send", to="operator", body="status report")
    first = hivectl(hive_proc, "inbox")
    assert "alice: status report" in first.stdout
    assert hivectl(hive_proc, "inbox").stdout.strip() == "no unread messages"
    assert "status report" in hivectl(hive_proc, "inbox", "--all").stdout


def test_errors_map_to_exit_codes(hive_proc: HiveProcess) -> None:
    missing = hivectl(hive_proc, "pause", "ghost")
    assert missing.returncode == 4 and missing.stderr == "hivectl: no agent named 'ghost' in this hive\n"
    bad = hivectl(hive_proc, "register-peer", "../etc")
    assert bad.returncode == 2 and "invalid agent name" in bad.stderr
    hivectl(hive_proc, "register-peer", "alice")
    again = hivectl(hive_proc, "register-peer", "alice")
    assert again.returncode == 6 and "already exists" in again.stderr
    raw = hivectl(hive_proc, "raw", '{"cmd": "list", "extra": 1}')
    assert raw.returncode == 2 and "unknown field 'extra'" in raw.stderr


def test_pause_resume_and_unregister(hive_proc: HiveProcess) -> None:
    hivectl(hive_proc, "register-peer", "alice")
    assert hivectl(hive_proc, "pause", "alice").stdout.strip() == "alice paused"
    assert json.loads(hivectl(hive_proc, "--json", "status").stdout)[0]["paused"] is True
    hivectl(hive_proc, "resume", "alice")
    assert json.loads(hivectl(hive_proc, "--json", "status").stdout)[0]["paused"] is False
    hivectl(hive_proc, "send", "alice", "kept")
    assert "kept" in hivectl(hive_proc, "unregister-peer", "alice").stdout
    assert json.loads(hivectl(hive_proc, "--json", "list").stdout) == []
    assert "kept" in hivectl(hive_proc, "flow").stdout  # its messages are kept


def test_harness_controls_from_the_shell(hive_proc: HiveProcess) -> None:
    from tests.support.hive import AgentConn

    hivectl(hive_proc, "register-peer", "alice")
    refused = hivectl(hive_proc, "interrupt", "alice")
    assert refused.returncode == 6 and "alice's harness is not connected" in refused.stderr
    assert hivectl(hive_proc, "model", "alice", "claude-haiku-4-5").stdout.strip() == "alice: model claude-haiku-4-5"
    with AgentConn(hive_proc.agent_socket("alice")) as controls:
        assert controls.request("control_stream")["ok"] is True
        assert hivectl(hive_proc, "interrupt", "alice").stdout.strip() == "alice: turn interrupted"
        assert controls.read()["control"] == "interrupt"
        assert hivectl(hive_proc, "logged-in", "alice").returncode == 0
        assert controls.read()["control"] == "logged_in"
    row = json.loads(hivectl(hive_proc, "--json", "status", "alice").stdout)[0]
    assert row["active_model"] == "claude-haiku-4-5"


def test_questions_and_answers_from_the_shell(hive_proc: HiveProcess) -> None:
    from tests.support.hive import AgentConn

    hivectl(hive_proc, "register-peer", "alice")
    assert hivectl(hive_proc, "questions").stdout.strip() == "no open questions"
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        asked = alice.request("ask", question="Ship it?", options=["yes", "no"], multi=False)["question"]
        listing = hivectl(hive_proc, "questions").stdout
        assert f"#{asked['id']} alice → operator [open, " in listing and "options: yes | no" in listing
        assert hivectl(hive_proc, "answer", str(asked["id"]), "yes,", "ship").stdout.strip() == \
            f"answered #{asked['id']} for alice"
        event = json.loads(alice.request("recv", wait_seconds=5)["messages"][0]["body"])
        assert (event["event"], event["answer"]) == ("question_answered", "yes, ship")
        again = hivectl(hive_proc, "answer", str(asked["id"]), "no")
        assert again.returncode == 6 and "already answered" in again.stderr
        alice.request("remind", message="tea", delay_seconds=600)
    assert "alice" in hivectl(hive_proc, "reminders").stdout.splitlines()[1]


def test_approvals_and_schedules_from_the_shell(hive_proc: HiveProcess) -> None:
    from tests.support.hive import AgentConn

    hivectl(hive_proc, "register-peer", "alice")
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        asked = alice.request("request_schedule_prompt", targets=["alice"], body="water the plants",
                              first_fire_at="2030-01-01T09:00:00Z", interval_seconds=86400,
                              description="plants")["approval"]
    listing = hivectl(hive_proc, "approvals", "--status", "pending").stdout.splitlines()
    assert listing[1].split()[:4] == [str(asked["id"]), "schedule_prompt", "alice", "pending"]
    shown = hivectl(hive_proc, "show-approval", str(asked["id"])).stdout
    assert "schedule_prompt for alice — pending" in shown and "body: water the plants" in shown
    assert hivectl(hive_proc, "deny", str(asked["id"]), "use", "a", "reminder").stdout.startswith("denied #")
    again = hivectl(hive_proc, "approve", str(asked["id"]))
    assert again.returncode == 6 and "already denied" in again.stderr
    made = hivectl(hive_proc, "schedule", "alice", "stretch", "--at", "+3600", "--every", "3600")
    assert made.returncode == 0 and made.stdout.startswith("schedule #2 next at ")
    edited = hivectl(hive_proc, "edit-schedule", "2", "--body", "stretch more", "--every", "7200")
    assert edited.returncode == 0 and edited.stdout.startswith("schedule #2 next at ")
    assert "stretch more" in hivectl(hive_proc, "schedules").stdout
    assert hivectl(hive_proc, "pause-schedule", "2").stdout.strip() == "schedule #2 paused"
    assert "paused" in hivectl(hive_proc, "schedules").stdout.splitlines()[1]
    assert hivectl(hive_proc, "cancel-schedule", "2").stdout.strip() == "schedule #2 cancelled"


def test_lifecycle_from_the_shell(hive_proc: HiveProcess) -> None:
    empty = hivectl(hive_proc, "stop")
    assert empty.returncode == 2 and "an empty scope is never 'everything'" in empty.stderr
    assert hivectl(hive_proc, "spawn", "alice").stdout.strip() == "alice: running"
    assert hivectl(hive_proc, "restart", "alice").stdout.strip() == "alice: running"
    assert hivectl(hive_proc, "stop", "--all").stdout.strip() == "alice: stopped"
    hivectl(hive_proc, "register-peer", "pat")
    refused = hivectl(hive_proc, "kill", "pat")
    assert refused.returncode == 5 and "the hive does not own its lifecycle" in refused.stderr
    assert hivectl(hive_proc, "destroy", "alice", "--yes").stdout.strip() == "destroyed alice"
    assert hivectl(hive_proc, "revive", "alice").stdout.strip() == "alice: running"
    assert hivectl(hive_proc, "destroy", "alice", "--purge", "--yes").returncode == 0
    assert "alice" not in hivectl(hive_proc, "list").stdout


def test_pause_all_and_resume_all_from_the_shell(hive_proc: HiveProcess) -> None:
    for name in ("alice", "bob"):
        hivectl(hive_proc, "register-peer", name)
    assert hivectl(hive_proc, "pause", "--all").stdout.splitlines() == ["alice: paused", "bob: paused"]
    assert all(row["paused"] for row in json.loads(hivectl(hive_proc, "--json", "status").stdout))
    assert hivectl(hive_proc, "resume", "--all").stdout.splitlines() == ["alice: resumed", "bob: resumed"]
    assert not any(row["paused"] for row in json.loads(hivectl(hive_proc, "--json", "status").stdout))
    again = hivectl(hive_proc, "resume", "--all")
    assert again.returncode != 0 and "nothing to resume" in again.stderr
    nameless = hivectl(hive_proc, "pause")
    assert nameless.returncode == 2 and "name an agent, or give --all" in nameless.stderr


def test_a_verb_without_a_command_gets_one_made_from_its_model(hive_proc: HiveProcess) -> None:
    """`loose_ends` has no hand-made command: hivectl derives `loose-ends` from the request model (its fields
    as options, the reply as JSON), and the daemon's checks stay the errors."""
    from tests.support.hive import AgentConn

    hivectl(hive_proc, "register-peer", "alice")
    with AgentConn(hive_proc.agent_socket("alice")) as conn:
        conn.request("remind", message="later", delay_seconds=600)
    ends = json.loads(hivectl(hive_proc, "loose-ends", "--agent", "alice").stdout)["loose_ends"]
    assert [r["body"] for r in ends["reminders"]] == ["later"] and ends["questions"] == []
    bad = hivectl(hive_proc, "loose-ends", "--agent", "../etc")
    assert bad.returncode == 2 and "invalid agent name" in bad.stderr
