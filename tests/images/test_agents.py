"""Agents on images, through a real hive-c0re with real bubblewrap, the real Claude CLI and real mmdebstrap
builds: a turn of an agent with `packages = ["librsvg2-bin"]` runs rsvg-convert inside its sandbox while
an agent without it gets "command not found" (on a host without it); and the approval loop: a bogus
package fails with apt's sentence and no card, a real one is built before the card, which shows the
change and the size, and the deployed agent runs on that image."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperhive.images import ImageService
from hyperhive.runtime._files import KeeperFiles, read_json
from tests.core.test_hivectl import hivectl
from tests.core.test_sandboxed_agents import AGENT_TOML, connected, end_hive, start_hive
from tests.support import api_replies as reply
from tests.support.hive import AgentConn, HiveProcess, wait_for
from tests.support.images import build_test_image
from tests.support.reaper import acting_as_init
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = [pytest.mark.bwrap, pytest.mark.timeout(900)]
RSVG = ["librsvg2-bin"]


@pytest.fixture(autouse=True)
def _images_and_a_reaper(claude_bin: str) -> Iterator[None]:
    assert shutil.which("rsvg-convert") is None, "this test needs a host without librsvg2-bin"
    build_test_image(claude_bin, RSVG)  # cached per machine; the loop below finds it built
    with acting_as_init():
        yield


def config(name: str, packages: list[str] | None = None) -> str:
    head = f"packages = {json.dumps(packages)}\n" if packages else ""
    return head + AGENT_TOML.format(name=name)


def sandbox_image(hive: HiveProcess, name: str) -> str | None:
    spec = read_json(KeeperFiles(hive.settings.runtime_dir / "sandboxes" / name).spec) or {}
    image = spec.get("image")
    return str(image) if image else None


@pytest.mark.claude
def test_an_agent_with_librsvg2_bin_runs_rsvg_convert_and_one_without_cannot(short_tmp: Path, claude_bin: str) -> None:
    (short_tmp / "api").mkdir()
    with ScriptedApi(unix_socket=short_tmp / "api" / "api.sock") as api:
        hive = start_hive(short_tmp / "hive", {"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                               **api.unix_env()})
        try:
            hive.host.request("spawn", name="painter", config=config("painter", RSVG))
            hive.host.request("spawn", name="plain", config=config("plain"))
            wait_for(lambda: connected(hive, "painter") and connected(hive, "plain"), timeout=60)
            command = "(rsvg-convert --version; echo exit=$?) > /hive/state/out.txt 2>&1"
            api.on("render", reply.tool_use("Bash", {"command": command, "description": "try rsvg-convert"}))
            api.on(after_tool("Bash"), reply.text("tried"))
            outs = {}
            for name in ("painter", "plain"):
                hive.host.request("send", to=name, body="please render")
                out = hive.settings.state_dir / "agents" / name / "state" / "out.txt"
                wait_for(lambda out=out: out.exists() and "exit=" in out.read_text(), timeout=90)
                outs[name] = out.read_text()
        finally:
            end_hive(hive)
    assert "rsvg-convert version" in outs["painter"] and "exit=0" in outs["painter"]
    assert "rsvg-convert: command not found" in outs["plain"] and "exit=127" in outs["plain"]


# --- the approval loop ----------------------------------------------------------------------------------
@pytest.fixture
def hive(short_tmp: Path, claude_bin: str) -> Iterator[HiveProcess]:
    running = start_hive(short_tmp / "hive", {"HYPERHIVE_MANAGER": "on", "HYPERHIVE_CLAUDE": claude_bin})
    try:
        wait_for(lambda: (running.settings.agent_socket_dir("hm1nd") / "manager.sock").exists(), timeout=60)
        running.host.request("spawn", name="alice", config=config("alice"))
        yield running
    finally:
        end_hive(running)


def commit(hive: HiveProcess, text: str) -> str:
    repo = hive.settings.state_dir / "configs" / "alice"
    (repo / "agent.toml").write_text(text)
    git = ["git", "-C", str(repo), "-c", "safe.directory=*", "-c", "user.name=hm1nd", "-c", "user.email=hm1nd@hive"]
    subprocess.run([*git, "commit", "-qam", "packages"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def applied_tags(hive: HiveProcess) -> set[str]:
    out = subprocess.run(["git", "-C", str(hive.settings.state_dir / "applied" / "alice"), "tag"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_a_bogus_package_fails_with_apts_sentence_and_no_card(hive: HiveProcess) -> None:
    with AgentConn(hive.settings.agent_socket_dir("hm1nd") / "manager.sock") as hm1nd:
        sha = commit(hive, config("alice", ["hh-no-such-package"]))
        failed = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha)["approval"]
        assert failed["status"] == "failed"
        assert "Unable to locate package hh-no-such-package" in failed["note"]
        assert hive.host.request("pending", status="pending")["approvals"] == []  # no card
        assert f"failed/{failed['id']}" in applied_tags(hive)
        mail = hm1nd.request("recv", wait_seconds=5, max=32)["messages"]
        events = [json.loads(m["body"]) for m in mail if m["sender"] == "system"]
        assert any(e["event"] == "approval_resolved" and "Unable to locate package" in e["approval"]["note"]
                   for e in events)


def test_a_package_is_built_before_the_card_which_shows_it_and_the_deploy_runs_on_it(hive: HiveProcess) -> None:
    with AgentConn(hive.settings.agent_socket_dir("hm1nd") / "manager.sock") as hm1nd:
        sha = commit(hive, config("alice", RSVG))
        asked = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha)["approval"]
    assert asked["status"] == "pending"
    card = hive.host.request("show_approval", id=asked["id"])["approvals"][0]
    assert "+librsvg2-bin" in card["diff"] and "MB on disk beyond the base" in card["diff"]
    assert card["details"]["packages"] == "+librsvg2-bin" and card["details"]["image_size_mb"] > 1
    assert card["details"]["image"].startswith("pkg-")
    hive.host.request("approve", id=asked["id"])
    wait_for(lambda: f"deployed/{asked['id']}" in applied_tags(hive), timeout=90)
    image = sandbox_image(hive, "alice")
    assert image is not None and Path(image).parent.name == card["details"]["image"]
    assert (Path(image) / "usr/bin/rsvg-convert").is_file()
    listed = {i["id"]: i for i in hive.host.request("images")["images"]}
    own = listed[card["details"]["image"]]
    assert own["kind"] == "packages" and own["packages"] == RSVG and own["users"] == ["alice"] and own["own_mb"] > 1
    base = next(i for i in listed.values() if i["kind"] == "base" and "hm1nd" in i["users"])
    assert set(base["users"]) == {"alice", "hm1nd"}
    printed = hivectl(hive, "images")
    assert printed.returncode == 0
    line = next(line for line in printed.stdout.splitlines() if line.startswith(own["id"]))
    assert "librsvg2-bin" in line and "alice" in line and " MB" in line


def test_a_daemon_killed_mid_build_leaves_no_image_and_the_change_fails_cleanly(hive: HiveProcess,
                                                                                 claude_bin: str) -> None:
    """kill -9 of hive-c0re while it builds a change's image: no image of that id appears, the restarted
    daemon fails the change with the reason (no card for a config whose image never finished), and
    asking again builds it."""
    packages = ["hello", "sl"]
    images = ImageService(Path("/nonexistent-state"), "bwrap", Path(claude_bin))
    store = asyncio.run(images.store())
    image_id = asyncio.run(images.plan(packages)).final.image_id
    store.remove(image_id)  # a cold build every run
    sha = commit(hive, config("alice", packages))
    answers: list[dict[str, object]] = []

    def ask() -> None:
        # The daemon dies under the request: no answer.
        with AgentConn(hive.settings.agent_socket_dir("hm1nd") / "manager.sock") as hm1nd, \
                contextlib.suppress(AssertionError, OSError):
            answers.append(hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha))

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    building = wait_for(lambda: next((a for a in hive.host.request("pending")["approvals"]
                                      if a["details"].get("image_build") == "building"), None), timeout=60)
    assert building["details"]["image"] == image_id
    log = Path(building["details"]["image_log"])
    wait_for(lambda: log.exists() and "I: extracting archives" in log.read_text(), timeout=180)
    shown = hivectl(hive, "show-approval", str(building["id"])).stdout
    assert "image build log:" in shown and "I: extracting archives" in shown
    hive.kill9()
    asker.join(10)
    assert answers == []
    assert store.get(image_id) is None and not store.path(image_id).exists()
    hive.start()
    after = hive.host.request("show_approval", id=building["id"])["approvals"][0]
    assert after["status"] == "failed" and "ask again" in after["note"]
    assert hive.host.request("pending", status="pending")["approvals"] == []
    assert f"failed/{building['id']}" in applied_tags(hive)
    with AgentConn(hive.settings.agent_socket_dir("hm1nd") / "manager.sock") as hm1nd:
        again = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha)["approval"]
    built = store.get(image_id)
    assert again["status"] == "pending" and built is not None and (built.root / "usr/games/sl").is_file()
    store.remove(image_id)
