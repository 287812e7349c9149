"""Config as git through the manager, end to end on the real Claude CLI: alice asks hm1nd for an
environment variable; hm1nd's turn edits alice's agent.toml with its own tools, commits and asks for the
apply; the operator approves (or denies) from hivectl."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.scripted_api import ApiRequest, ScriptedApi, after_tool, hive_notice

pytestmark = pytest.mark.claude
SEND = "mcp__hyperhive__send"
APPLY = "mcp__hyperhive__request_apply_commit"
EDIT = ("cd $HIVE_CONFIGS_DIR/alice && sed -i 's/^\\[env\\]$/[env]\\nGREETING = \"hello\"/' agent.toml && "
        "git add agent.toml && git -c user.name=hm1nd -c user.email=hm1nd@hive commit -qm 'GREETING for alice' "
        "&& git rev-parse HEAD")


@pytest.fixture
def hive(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    with ScriptedApi() as api:
        (short_tmp / "hive").mkdir()
        hive = HiveProcess(short_tmp / "hive", env={
            "HYPERHIVE_MANAGER": "on", "HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0", **api.env()})
        hive.start()
        try:
            yield hive, api
        finally:
            hive.host.request("stop", all=True)
            hive.stop()


def script_the_manager(api: ScriptedApi) -> None:
    api.on("please set GREETING=hello", reply.tool_use("Bash", {"command": EDIT, "description": "edit and commit"}))
    api.on("ask the manager to set GREETING",
           reply.tool_use(SEND, {"to": "manager", "body": "please set GREETING=hello in my env"}))

    def apply_what_bash_printed(req: ApiRequest) -> reply.Reply:
        printed = " ".join(str(r.content) for r in req.tool_results)
        sha = re.findall(r"\b[0-9a-f]{40}\b", printed)[-1]
        return reply.tool_use(APPLY, {"agent": "alice", "commit_ref": sha, "description": "GREETING for alice"})

    api.on(after_tool("Bash"), apply_what_bash_printed)
    api.on(lambda req: any(r.name in (SEND, APPLY) for r in req.tool_results), reply.text("done"))
    api.on(hive_notice, reply.text("noted"))  # rebuilt, approval_resolved, restarts: not what is scripted here


def hivectl(hive: HiveProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir",
                           str(hive.settings.runtime_dir), *args], capture_output=True, text=True, timeout=60)


def harness_environ(hive: HiveProcess, name: str) -> dict[str, str]:
    needle = str(hive.settings.state_dir / "agents" / name / "state").encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                if b"hyperhive.cli.ag3nt\0run" in cmdline and needle in cmdline:
                    pairs = (entry / "environ").read_bytes().split(b"\0")
                    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)
            except OSError:
                continue
    return {}


def ask_for_greeting(hive: HiveProcess, api: ScriptedApi) -> dict[str, object]:
    script_the_manager(api)
    def manager_idle() -> bool:
        rows = hive.host.request("agent_status")["agent_statuses"]
        return any(r["name"] == "hm1nd" and r["activity"] == "idle" for r in rows)

    wait_for(manager_idle, timeout=60)  # bootstrapped on first start, no approval
    hive.host.request("spawn", name="alice")
    wait_for(lambda: harness_environ(hive, "alice"), timeout=30)
    hive.host.request("send", to="alice", body="please ask the manager to set GREETING for you")
    try:
        pending = wait_for(lambda: hive.host.request("pending", status="pending", kind="apply_commit")["approvals"],
                           timeout=120)
    except TimeoutError:
        seen = [(r.last_user_text[:80], [(t.name, str(t.content)[:300]) for t in r.tool_results])
                for r in api.message_requests]
        notes = [e["payload"] for e in hive.host.request("events", kinds=["turn.turn_end", "turn.note"],
                                                          limit=50)["events"]]
        approvals = hive.host.request("pending")["approvals"]
        raise AssertionError(f"no apply_commit approval; API saw {seen}; turn ends {notes}; {approvals}") from None
    return dict(pending[0])


def test_the_manager_changes_a_config_and_the_operator_approves(hive: tuple[HiveProcess, ScriptedApi]) -> None:
    proc, api = hive
    approval = ask_for_greeting(proc, api)
    assert approval["requested_by"] == "hm1nd" and approval["agent"] == "alice"
    listing = hivectl(proc, "approvals").stdout
    assert f"{approval['id']}" in listing and "apply_commit" in listing
    shown = hivectl(proc, "show-approval", str(approval["id"])).stdout
    assert '+GREETING = "hello"' in shown  # the diff against what is deployed
    old_pid_env = harness_environ(proc, "alice")
    assert "GREETING" not in old_pid_env
    assert hivectl(proc, "approve", str(approval["id"])).returncode == 0
    env = wait_for(lambda: (e := harness_environ(proc, "alice")).get("GREETING") and e, timeout=60)
    assert env["GREETING"] == "hello"  # alice was restarted on her new config
    done = wait_for(lambda: [a for a in proc.host.request("pending", kind="apply_commit")["approvals"]
                             if a["done"]], timeout=60)[0]
    assert done["status"] == "approved"
    def resolved_for_the_manager() -> bool:  # told right after the approval is marked done
        mail = proc.host.request("recent", limit=100)["messages"]
        events = [json.loads(m["body"]) for m in mail if m["recipient"] == "hm1nd" and m["sender"] == "system"]
        return any(e["event"] == "approval_resolved" and e["approval"]["id"] == approval["id"] for e in events)

    wait_for(resolved_for_the_manager, timeout=30)
    tags = subprocess.run(["git", "-C", str(proc.settings.state_dir / "applied" / "alice"), "tag"],
                          capture_output=True, text=True).stdout.split()
    n = approval["id"]
    assert {f"proposal/{n}", f"approved/{n}", f"building/{n}", f"deployed/{n}"} <= set(tags)
    # A rollback is proposed as a revert, through the same approval.
    back = hivectl(proc, "rollback", "alice")
    assert back.returncode == 0 and "roll back alice" in back.stdout


def test_a_denied_change_leaves_the_agent_untouched(hive: tuple[HiveProcess, ScriptedApi]) -> None:
    proc, api = hive
    approval = ask_for_greeting(proc, api)
    before = proc.host.request("agent_status", names=["alice"])["agent_statuses"][0]
    assert hivectl(proc, "deny", str(approval["id"]), "--note", "not needed").returncode == 0
    after = proc.host.request("agent_status", names=["alice"])["agent_statuses"][0]
    assert after["deployed_sha"] == before["deployed_sha"] and after["state"] == "running"
    assert "GREETING" not in harness_environ(proc, "alice")
    tags = subprocess.run(["git", "-C", str(proc.settings.state_dir / "applied" / "alice"), "tag"],
                          capture_output=True, text=True).stdout.split()
    assert f"deployed/{approval['id']}" not in tags
