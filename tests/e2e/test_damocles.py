"""The damocles migration, as the note writes it (issue 20; docs/migrating-damocles.md).

damocles is a declarative container hosting a person's day-job Claude Code session: three bind mounts
(`/etc/nix/distributed-build-key` ro, `/persist/damocles-ssh` ro, `/persist/damocles-lab` rw), the host's
network (`privateNetwork = false`), `TimeoutStopSec = 60s`, `RestartSec = 5s`.

Option B, a peer: a container this test builds with bubblewrap (standing in for systemd-nspawn) with those
three mounts and the hive's socket dir for it at /run/hive, `hive-ag3nt serve` running as its service, and
apart from it the person's own Claude Code, given the hive's tools with `claude mcp add … hive-ag3nt mcp`;
registered with `hive-c0re register-peer damocles` as typed in the note. Then: listed, shown on the
dashboard as a peer without lifecycle buttons, mail both ways with a managed agent, every lifecycle verb
refused, and a kill -9 of hive-c0re that costs it a reconnect and nothing else.

Option A, a managed agent: the same declaration as agent.toml, spawned with `hive-c0re spawn`; its mounts
checked from inside a real turn, its crash restarted after the 5 s it declares (measured), and its stop
letting a running turn finish."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hyperhive.protocol import parse_rfc3339
from tests.core.test_sandboxed_agents import alive, connected, sandbox
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.peer import Bind, Peer, hive_with_unix_api, start_peer
from tests.support.scripted_api import ScriptedApi, after_tool, hive_notice

pytestmark = [pytest.mark.claude, pytest.mark.bwrap]

SEND, RECV = "mcp__hyperhive__send", "mcp__hyperhive__recv"
HOME = "/home/muede"
KEY, SSH, LAB = "/etc/nix/distributed-build-key", "/persist/damocles-ssh", "/persist/damocles-lab"
LIFECYCLE = ["start", "stop", "restart", "kill", "rebuild", "destroy", "revive"]
ALICE = """name = "alice"
description = "a managed agent damocles works with"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = ["damocles"]
network = "private"
"""
# damocles as a managed agent: the note's container, line by line (docs/migrating-damocles.md, option A).
DAMOCLES_AGENT = f"""name = "damocles"
description = "the day-job Claude Code session, as a managed agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = []
network = "host"                  # privateNetwork = false

[restart]
delay_seconds = 5                 # RestartSec = "5s"
stop_timeout_seconds = 60         # TimeoutStopSec = "60s"

[[bind_mounts]]
host = "{{root}}{KEY}"
target = "{KEY}"
mode = "ro"

[[bind_mounts]]
host = "{{root}}{SSH}"
target = "{SSH}"
mode = "ro"

[[bind_mounts]]
host = "{{root}}{LAB}"
target = "{LAB}"
mode = "rw"
"""
# The peer container's init, its "systemd": the `hive-ag3nt serve` service (note step 3), then the person
# at the keyboard: once `claude mcp add` (as docs/migrating-damocles.md says), then one Claude Code run per
# prompt from the `go` FIFO, its output written aside and renamed into place when done.
PEER_INIT = """hive-ag3nt serve --socket /run/hive/mcp.sock --heartbeat 1 \\
    --on-mail 'echo "$HIVE_MAIL_FROM: $HIVE_MAIL_PREVIEW" >> "$HOME/heard"' &
claude mcp add --scope user hyperhive -- hive-ag3nt mcp --socket /run/hive/mcp.sock > "$HOME/mcp-add.out" 2>&1
n=0
while read -r prompt < "$HOME/go"; do
    n=$((n + 1))
    claude --print "$prompt" --model claude-scripted-1 --allowedTools mcp__hyperhive > "$HOME/turn.tmp" 2>&1
    echo "rc=$?" >> "$HOME/turn.tmp"
    mv "$HOME/turn.tmp" "$HOME/turn.$n"
done
"""


@pytest.fixture
def world(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    """A hive-c0re running bubblewrap agents, the scripted API on a Unix socket both the hive's agents and
    the peer's container reach."""
    with hive_with_unix_api(short_tmp, claude_bin) as world:
        yield world


def host_paths(root: Path) -> list[Bind]:
    """The host side of damocles's three mounts, under `root` (standing in for the host's /)."""
    (root / KEY[1:]).parent.mkdir(parents=True)
    (root / KEY[1:]).write_text("the distributed build key\n")
    (root / SSH[1:]).mkdir(parents=True)
    (root / SSH[1:] / "id_ed25519").write_text("damocles's ssh key\n")
    (root / LAB[1:]).mkdir(parents=True)
    return [Bind(root / KEY[1:], KEY), Bind(root / SSH[1:], SSH), Bind(root / LAB[1:], LAB, writable=True)]


def cli(hive: HiveProcess, prog: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`hive-c0re ARGS` or `hivectl ARGS` as typed on the hive's host (the runtime dir from the environment)."""
    module = {"hive-c0re": "hyperhive.cli.c0re", "hivectl": "hyperhive.cli.hivectl"}[prog]
    env = {**hive.env, "HYPERHIVE_RUNTIME_DIR": str(hive.settings.runtime_dir)}
    return subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=120)


def row(hive: HiveProcess, name: str) -> dict[str, Any]:
    return dict(hive.host.request("agent_status", names=[name])["agent_statuses"][0])


def mail_to(hive: HiveProcess, name: str) -> list[dict[str, Any]]:
    return [m for m in hive.host.request("recent", limit=200)["messages"] if m["recipient"] == name]


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def prompt(peer: Peer, n: int, text: str) -> str:
    """The person types into their own Claude Code (the n-th run); its output once the run has ended."""
    (peer.home / "go").write_text(text + "\n")
    done = wait_for(lambda: read(peer.home / f"turn.{n}"), timeout=120)  # renamed into place when complete
    assert done.rstrip().endswith("rc=0"), done
    return str(done)


# --- option B: damocles as a peer -------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.timeout(400)
def test_option_b_damocles_joins_as_a_peer_by_the_notes_four_steps(
    world: tuple[HiveProcess, ScriptedApi], short_tmp: Path, claude_bin: str
) -> None:
    hive, api = world
    api.on("ask alice whether the build is green",
           reply.tool_use(SEND, {"to": "alice", "body": "damocles asks: is the build green?"}))
    api.on("damocles asks: is the build green?", reply.tool_use(SEND, {"to": "damocles", "body": "green since 9:14"}))
    api.on("read your hive mail", reply.tool_use(RECV, {}))
    api.on("tell alice thanks", reply.tool_use(SEND, {"to": "alice", "body": "thanks, from damocles"}))
    api.on("thanks, from damocles", reply.text("you're welcome"))  # alice's turn on that mail
    api.on(after_tool(SEND), reply.text("sent"))
    api.on(after_tool(RECV), reply.text("read"))

    # Step 4 of the note, typed as written (the hive's side first: it makes the socket dir to mount).
    registered = cli(hive, "hive-c0re", "register-peer", "damocles")
    assert registered.returncode == 0, registered.stderr
    bind = re.search(r"(\S+):/run/hive", registered.stdout)
    assert bind, registered.stdout
    assert cli(hive, "hive-c0re", "spawn", "alice", "--config", str(write(short_tmp / "alice.toml", ALICE))
               ).returncode == 0
    # Steps 1-3: the container with its own three mounts and the host's network, the socket dir at /run/hive,
    # `hive-ag3nt serve` as its service; the person's Claude Code beside it.
    peer = start_peer(short_tmp / "damocles", Path(bind.group(1)), api, claude_bin, PEER_INIT, home_target=HOME,
                      hostname="damocles", binds=host_paths(short_tmp / "host"), private_network=False)
    try:
        wait_for(lambda: row(hive, "damocles")["state"] == "online", timeout=60)
        assert "damocles" in cli(hive, "hive-c0re", "list").stdout.split()
        status = row(hive, "damocles")
        assert (status["kind"], status["running"]) == ("peer", True)
        asyncio.run(check_the_swarm_view(hive))

        # Mail both ways: the person's Claude Code asks alice; alice's turn answers damocles.
        prompt(peer, 1, "please ask alice whether the build is green")
        asked = wait_for(lambda: [m for m in mail_to(hive, "alice") if m["sender"] == "damocles"], timeout=90)
        assert asked[0]["body"] == "damocles asks: is the build green?"  # sent as damocles: the socket is its name
        answer = wait_for(lambda: [m for m in mail_to(hive, "damocles") if m["sender"] == "alice"], timeout=120)
        assert answer[0]["body"] == "green since 9:14"
        wait_for(lambda: "alice: green since 9:14" in read(peer.home / "heard"), timeout=30)  # serve's hook
        assert row(hive, "damocles")["unread"] == 1  # serve tells, never takes: the mail waits for the person
        prompt(peer, 2, "read your hive mail")
        results = [r for req in api.message_requests if req.last_user_text == "" for r in req.tool_results
                   if r.name == RECV]
        assert results and "green since 9:14" in json.dumps(results[-1].content), results
        assert row(hive, "damocles")["unread"] == 0  # read by the person's Claude Code through hive-ag3nt mcp

        for prog, verb in [("hivectl", v) for v in LIFECYCLE] + [("hive-c0re", v) for v in ("kill", "rebuild")]:
            refused = cli(hive, prog, verb, "damocles", *(["--yes"] if verb == "destroy" else []))
            assert refused.returncode == 5, (prog, verb, refused.stdout, refused.stderr)
            assert "does not own its lifecycle" in refused.stderr, (prog, verb, refused.stderr)
        assert peer.bwrap.poll() is None and row(hive, "damocles")["state"] == "online"

        serve = peer.serve_pid()
        assert serve
        hive.kill9()
        restarted = time.time()
        hive.start()
        wait_for(lambda: row(hive, "damocles")["state"] == "online" and seen_at(hive) >= restarted, timeout=60)
        assert peer.serve_pid() == serve and peer.bwrap.poll() is None  # a reconnect, nothing more
        hive.host.request("send", to="damocles", body="still there?")
        wait_for(lambda: "operator: still there?" in read(peer.home / "heard"), timeout=30)
        prompt(peer, 3, "please tell alice thanks")
        thanks = [m["body"] for m in mail_to(hive, "alice") if m["sender"] == "damocles"]
        assert "thanks, from damocles" in thanks  # it speaks again after the reconnect
        wait_for(lambda: [m for m in mail_to(hive, "alice") if m["body"] == "thanks, from damocles" and m["acked_at"]],
                 timeout=120)  # alice's turn on it ended: nothing of the story is left running at the teardown
    finally:
        peer.stop()


def seen_at(hive: HiveProcess) -> float:
    return datetime.fromisoformat(str(row(hive, "damocles")["last_seen"])).timestamp()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def check_the_swarm_view(hive: HiveProcess) -> None:
    """The dashboard's swarm view in Chromium: damocles is a peer, online, with no lifecycle buttons (a
    managed agent beside it has them); the dashboard refuses a lifecycle action on it too."""
    from playwright.async_api import async_playwright, expect

    from tests.web.conftest import CHROMIUM, logged_in, screenshot

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM} (scripts/setup installs Debian's chromium)")
    url = (await asyncio.to_thread(hive.host.request, "dashboard_url"))["url"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        try:
            async with logged_in(browser, url) as page:
                page.set_default_timeout(20_000)
                damocles, alice = page.locator('tr[data-agent="damocles"]'), page.locator('tr[data-agent="alice"]')
                await expect(damocles.locator(".kind")).to_have_text("peer")
                await expect(damocles.locator(".badge").first).to_have_text("online")
                await expect(alice.locator('button[data-action="stop"]')).to_be_visible()  # managed: it has them
                shown = set(await damocles.locator("button").evaluate_all("bs => bs.map(b => b.dataset.action)"))
                assert shown and not shown & {"start", "stop", "restart", "rebuild", "kill", "destroy", "purge",
                                              "revive"}, shown
                await screenshot(page, "damocles-peer-swarm")
                status = await page.evaluate("""async () => {
                    const csrf = document.querySelector('meta[name="csrf-token"]').content;
                    const r = await fetch("/api/action", {method: "POST", body: JSON.stringify(
                        {action: "restart", name: "damocles"}),
                        headers: {"content-type": "application/json", "x-csrf-token": csrf}});
                    return [r.status, await r.text()];
                }""")
                assert status[0] == 403 and "does not apply to damocles" in status[1], status
        finally:
            await browser.close()


# --- option A: damocles as a managed agent ----------------------------------------------------------------
PROBE = f"""r={LAB}/probe.tmp; : > $r
look() {{ if cat "$1" >/dev/null 2>&1 || ls "$1" >/dev/null 2>&1; then echo "read $1"; else echo "unreadable $1"; fi \
  >> $r; }}
touch_() {{ if (: > "$1/hh-probe") 2>/dev/null; then echo "writable $1"; else echo "read-only $1"; fi >> $r; }}
look {KEY}; look {SSH}/id_ed25519; look {LAB}
touch_ {SSH}; touch_ {LAB}
if (: >> {KEY}) 2>/dev/null; then echo "writable {KEY}"; else echo "read-only {KEY}"; fi >> $r
echo "net $(tr -s ' ' < /proc/net/dev | cut -d: -f1 | tail -n +3 | sort | tr -d ' ' | tr '\\n' ,)" >> $r
mv $r {LAB}/probe.txt
"""


def host_interfaces() -> str:
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return ",".join(sorted(line.split(":")[0].strip() for line in lines)) + ","


def events(hive: HiveProcess, *kinds: str) -> list[dict[str, Any]]:
    return list(hive.host.request("events", agent="damocles", kinds=list(kinds), limit=500)["events"])


def log_text(hive: HiveProcess) -> str:
    return "\n".join(hive.host.request("logs", name="damocles", lines=400)["lines"])


@pytest.mark.timeout(400)
def test_option_a_damocles_as_a_managed_agent_keeps_its_mounts_and_restart_policy(
    world: tuple[HiveProcess, ScriptedApi], short_tmp: Path
) -> None:
    hive, api = world
    root = short_tmp / "host"
    binds = host_paths(root)
    # The host's administrator allows exactly these three paths (host.toml's bind_roots).
    (hive.settings.state_dir / "host.toml").write_text(f"bind_roots = {json.dumps([str(b.host) for b in binds])}\n")
    config = write(short_tmp / "damocles.toml", DAMOCLES_AGENT.format(root=root))
    spawned = cli(hive, "hive-c0re", "spawn", "damocles", "--config", str(config))
    assert spawned.returncode == 0 and "damocles: running" in spawned.stdout, spawned.stderr
    wait_for(lambda: connected(hive, "damocles"), timeout=60)

    # Its mounts, ro and rw as declared, and the host's network: probed by its own turn's Bash.
    api.on("probe your mounts", reply.tool_use("Bash", {"command": PROBE, "description": "probe the mounts"}))
    api.on(after_tool("Bash"), reply.text("probed"))
    api.on(hive_notice, reply.text("noted"))  # the note after the crash below wakes it for a turn
    probe = hive.host.request("send", to="damocles", body="please probe your mounts")["id"]
    report = wait_for(lambda: read(root / LAB[1:] / "probe.txt"), timeout=120)
    assert report.splitlines() == [
        f"read {KEY}", f"read {SSH}/id_ed25519", f"read {LAB}",
        f"read-only {SSH}", f"writable {LAB}", f"read-only {KEY}", f"net {host_interfaces()}"], report
    assert (root / LAB[1:] / "hh-probe").exists() and not (root / SSH[1:] / "hh-probe").exists()
    assert (root / KEY[1:]).read_text() == "the distributed build key\n"
    # The probe's turn ends (acked) before the crash: a kill mid-turn would make the crash also a redelivery.
    wait_for(lambda: next(m for m in mail_to(hive, "damocles") if m["id"] == probe)["acked_at"], timeout=60)

    # A crash is restarted after RestartSec = 5s: measured from the crash to the new start.
    before = sandbox(hive, "damocles")
    os.kill(before["harness"], signal.SIGKILL)
    started = wait_for(lambda: events(hive, "started")[1:], timeout=60)[0]
    crash = events(hive, "container_crash")[0]
    waited = parse_rfc3339(started["at"]) - parse_rfc3339(crash["at"])
    since_exit = parse_rfc3339(started["at"]) - float(crash["payload"]["ended_at"])
    print(f"damocles restart: {waited:.3f} s after the crash event, {since_exit:.3f} s after the exit")
    assert 5.0 <= waited < 8.0 and since_exit >= 5.0, (waited, since_exit)
    assert not alive(before["keeper"])
    wait_for(lambda: connected(hive, "damocles"), timeout=60)

    # A stop lets the running turn finish (within TimeoutStopSec = 60s), then stops.
    release = threading.Event()
    long_job = f"echo finished > {LAB}/job.tmp && mv {LAB}/job.tmp {LAB}/job.txt"
    api.on("run the long job", reply.hang(release, reply.tool_use("Bash", {"command": long_job})))
    sent = hive.host.request("send", to="damocles", body="please run the long job")["id"]
    api.wait_for_request(lambda r: "please run the long job" in r.last_user_text, timeout=120)  # held
    begun = time.monotonic()
    stopping = subprocess.Popen([sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir",
                                 str(hive.settings.runtime_dir), "stop", "damocles"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "stopping: the running turn may finish" in log_text(hive), timeout=60)  # SIGTERM is in
        assert stopping.poll() is None and row(hive, "damocles")["state"] == "stopping"
        release.set()  # the API answers: the turn goes on, runs its Bash, ends
        out, err = stopping.communicate(timeout=90)
    finally:
        release.set()
        if stopping.poll() is None:
            stopping.kill()
    took = time.monotonic() - begun
    print(f"damocles stop with a running turn: {took:.1f} s")
    assert stopping.returncode == 0 and out.strip() == "damocles: stopped", (out, err)
    assert took < 60
    assert read(root / LAB[1:] / "job.txt") == "finished\n"  # the turn's tool ran after the SIGTERM
    message = next(m for m in mail_to(hive, "damocles") if m["id"] == sent)
    assert message["acked_at"], message  # the turn ended and was acked: nothing to redeliver
    assert events(hive, "stopped")[-1]["payload"]["exit"] == "exited with code 0"  # not the SIGKILL at 60 s
    turn_ends = [e for e in hive.host.request("events", agent="damocles", limit=500)["events"]
                 if e["kind"].endswith("turn_end")]
    assert turn_ends and turn_ends[-1]["payload"].get("ok", True), turn_ends[-1]
    assert not alive(sandbox(hive, "damocles")["harness"])
