"""The swarm tree and the operator's new hivectl commands, on a real daemon through the real CLI:
set-parent (and the subtree's schedules needing no approval), cancel-question, cancel-reminder, spawn --allow."""

from __future__ import annotations

import json
import time
import tomllib

import pytest

from hyperhive.client import RequestFailed
from tests.core.test_hivectl import hivectl
from tests.support.hive import AgentConn, HiveProcess


def parent_of(hive: HiveProcess, name: str) -> str | None:
    row = hive.host.request("agent_status", names=[name])["agent_statuses"][0]
    return row["parent"]  # type: ignore[no-any-return]


def test_set_parent_builds_a_tree_and_its_schedules_need_no_card(hive_proc: HiveProcess) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        hive_proc.host.request("register_peer", name=name)
    assert hivectl(hive_proc, "set-parent", "bob", "alice").stdout.strip() == "bob: under alice"
    assert hivectl(hive_proc, "set-parent", "carol", "bob").returncode == 0
    loop = hivectl(hive_proc, "set-parent", "alice", "carol")
    assert loop.returncode == 6 and loop.stderr == "hivectl: carol is alice or below it: alice cannot hang under it\n"
    assert hivectl(hive_proc, "set-parent", "bob").returncode == 2  # neither a parent nor --top
    assert hivectl(hive_proc, "set-parent", "ghost", "alice").returncode == 4
    with pytest.raises(RequestFailed, match="invalid"):
        hive_proc.host.request("set_parent", name="bob", parent="../x")
    assert (parent_of(hive_proc, "bob"), parent_of(hive_proc, "carol")) == ("alice", "bob")
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        below = alice.request("request_schedule_prompt", targets=["bob", "carol"], body="stand-up",
                              first_fire_at=time.time() + 3600)
        assert below["ok"], below
        assert below["schedule"]["status"] == "active" and below["approval"]["status"] == "approved"
        assert "subtree" in below["approval"]["note"]
        beside = alice.request("request_schedule_prompt", targets=["dave"], body="hello",
                               first_fire_at=time.time() + 3600)
        assert beside["schedule"]["status"] == "awaiting_approval" and beside["approval"]["status"] == "pending"
    with AgentConn(hive_proc.agent_socket("bob")) as bob:
        upward = bob.request("request_schedule_prompt", targets=["alice"], body="hi boss",
                             first_fire_at=time.time() + 3600)
        assert upward["approval"]["status"] == "pending"  # the parent is not in the child's subtree
    cards = hive_proc.host.request("pending", status="pending")["approvals"]
    assert sorted(c["agent"] for c in cards) == ["alice", "bob"]  # no card for the subtree's schedule
    top = json.loads(hivectl(hive_proc, "--json", "set-parent", "bob", "--top").stdout)
    assert top["parent"] is None and parent_of(hive_proc, "carol") == "bob"


def test_cancel_question_and_cancel_reminder(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("register_peer", name="alice")
    with AgentConn(hive_proc.agent_socket("alice")) as alice:
        asked = alice.request("ask", question="deploy now?", options=["yes", "no"])
        reminder = alice.request("remind", message="look again", delay_seconds=3600)["reminder"]
    qid = asked["question"]["id"]
    out = hivectl(hive_proc, "cancel-question", str(qid))
    assert out.returncode == 0 and out.stdout.strip() == f"question #{qid} cancelled"
    assert hive_proc.host.request("questions", status="cancelled")["questions"][0]["id"] == qid
    out = hivectl(hive_proc, "cancel-reminder", str(reminder["id"]))
    assert out.returncode == 0 and out.stdout.strip() == f"reminder #{reminder['id']} cancelled"
    assert hive_proc.host.request("reminders", agent="alice")["reminders"] == []
    again = hivectl(hive_proc, "cancel-reminder", str(reminder["id"]))
    assert again.returncode == 4 and "no pending reminder" in again.stderr


def test_spawn_with_allow_lets_two_newcomers_talk(hive_proc: HiveProcess) -> None:
    assert hivectl(hive_proc, "spawn", "ann", "--allow", "ben").returncode == 0
    assert hivectl(hive_proc, "spawn", "ben", "--allow", "ann,operator").returncode == 0
    assert hivectl(hive_proc, "spawn", "cat").returncode == 0  # no --allow: the template's empty list
    for name in ("ann", "ben", "cat"):
        hive_proc.host.request("set_paused", name=name, paused=True)  # the daemon holds their mail: no turns here
    with AgentConn(hive_proc.agent_socket("ann")) as ann:
        assert ann.request("send", to="ben", body="hi ben")["ok"]
        refused = ann.request("send", to="cat", body="hi cat")
        assert not refused["ok"] and "allowed_recipients" in refused["error"]
    with AgentConn(hive_proc.agent_socket("ben")) as ben:
        assert ben.request("send", to="ann", body="hi ann")["ok"]
    with AgentConn(hive_proc.agent_socket("cat")) as cat:
        assert not cat.request("send", to="ann", body="hello?")["ok"]
    deployed = tomllib.loads((hive_proc.settings.agent_socket_dir("ben") / "agent.toml").read_text())
    assert deployed["allowed_recipients"] == ["ann", "operator"]
    bad = hivectl(hive_proc, "spawn", "dan", "--allow", "Not A Name")
    assert bad.returncode == 2 and "dan" not in hive_proc.host.request("list")["agents"]
    hive_proc.host.request("stop", all=True)


def test_hivectl_flow_shows_mail_dropped_with_a_purged_agent(hive_proc: HiveProcess) -> None:
    assert hivectl(hive_proc, "spawn", "amy").returncode == 0
    hive_proc.host.request("set_paused", name="amy", paused=True)  # the daemon holds its mail
    hivectl(hive_proc, "send", "amy", "never read")
    assert hivectl(hive_proc, "destroy", "amy", "--purge", "--yes").returncode == 0
    assert "operator → amy [dropped]: never read" in hivectl(hive_proc, "flow").stdout
