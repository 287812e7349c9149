"""Managed agents in real bubblewrap sandboxes, through a real hive-c0re (issue 4's "Done when"): what an
agent can see and write (probed by the agent itself, in a Claude turn whose Bash tool runs inside its
sandbox), bind mounts refused at spawn, crash and restart until `failed`, the lifecycle verbs, purge with
crafted names, a kill -9 of the daemon that leaves the sandboxes running for the next one to adopt, and
`hivectl logs` (-f). """

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import hyperhive
from hyperhive.client import RequestFailed
from hyperhive.runtime import _proc
from hyperhive.runtime._files import KeeperFiles, read_json
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, end_hive, wait_for
from tests.support.needs import require_bwrap
from tests.support.reaper import acting_as_init
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = pytest.mark.bwrap

AGENT_TOML = """name = "{name}"
description = "a sandboxed test agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = []
network = "private"
[restart]
policy = "on-failure"
delay_seconds = 0.2
max_restarts = 2
window_seconds = 60
stop_timeout_seconds = 5
"""


@pytest.fixture(autouse=True)
def _needs_bwrap_and_a_reaper() -> Iterator[None]:
    """bwrap must work here; and this test process stands in for init as the reaper of keepers whose
    daemon was killed (this machine's pid 1 reaps nothing)."""
    require_bwrap()
    with acting_as_init():
        yield


def start_hive(root: Path, env: dict[str, str] | None = None) -> HiveProcess:
    root.mkdir(exist_ok=True)
    hive = HiveProcess(root, env={"HYPERHIVE_RUNTIME": "bwrap", **(env or {})})
    hive.start()
    return hive


@pytest.fixture
def hive(short_tmp: Path) -> Iterator[HiveProcess]:
    running = start_hive(short_tmp / "hive")
    try:
        yield running
    finally:
        end_hive(running)


# --- looking at the sandboxes from the host -------------------------------------------------------------
def sandbox(hive: HiveProcess, name: str) -> dict[str, int]:
    """keeper, bwrap (outside), init (the sandbox's pid 1) and harness host pids, from the keeper's file."""
    state = read_json(KeeperFiles(hive.settings.runtime_dir / "sandboxes" / name).keeper) or {}
    keeper, init = int(state.get("keeper_pid", 0)), int(state.get("sandbox_pid", 0))
    harness = _proc.children(init)
    return {"keeper": keeper, "bwrap": next(iter(_proc.children(keeper)), 0), "init": init,
            "harness": harness[0] if harness else 0}


def alive(pid: int) -> bool:
    return pid > 0 and Path(f"/proc/{pid}").exists() and b"\nState:\tZ" not in Path(f"/proc/{pid}/status").read_bytes()


def keepers_of(hive: HiveProcess, name: str) -> list[int]:
    """Every keeper process running this agent's sandbox (there must never be two)."""
    needle = f"hyperhive.runtime.keeper\0{hive.settings.runtime_dir / 'sandboxes' / name}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def row(hive: HiveProcess, name: str) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=[name])["agent_statuses"][0])


def spawn(hive: HiveProcess, name: str, extra: str = "") -> dict[str, object]:
    result = hive.host.request("spawn", name=name, config=AGENT_TOML.format(name=name) + extra)
    return dict(result["agent_statuses"][0])


def restarted(hive: HiveProcess, name: str, old_keeper: int) -> bool:
    """A new sandbox runs its harness. (Not "connected": the row keeps the last run's activity.)"""
    now = sandbox(hive, name)
    return now["keeper"] not in (0, old_keeper) and alive(now["harness"])


def connected(hive: HiveProcess, name: str) -> bool:
    return row(hive, name)["activity"] == "idle"


def seen_since(hive: HiveProcess, name: str, since: float) -> bool:
    seen = row(hive, name)["last_seen"]
    return isinstance(seen, str) and datetime.fromisoformat(seen).timestamp() >= since


def events_of(hive: HiveProcess, kind: str, name: str) -> list[dict[str, object]]:
    messages = hive.host.request("inbox", limit=200)["messages"]
    found = [json.loads(m["body"]) for m in messages if m["sender"] == "system"]
    return [e for e in found if e["event"] == kind and e["agent"] == name]


# --- what an agent can see and write, probed from inside by its own Claude turn ----------------------------
PROBE = """r=/hive/state/probe.txt; : > $r
look() {{ if cat "$1" >/dev/null 2>&1 || ls "$1" >/dev/null 2>&1; then echo "visible $1"; else echo "hidden $1"; fi \
  >> $r; }}
touch_() {{ if (: > "$1") 2>/dev/null; then echo "writable $1"; else echo "refused $1"; fi >> $r; }}
for p in {hidden} /etc/shadow /hive/state/marker.txt; do look "$p"; done
for p in {written} /usr/hh-probe /etc/hh-probe /hh-probe /run/hive/hh-probe /hive/state/hh-probe; do touch_ "$p"; done
grep CapEff /proc/self/status >> $r
echo done >> $r
"""


@pytest.fixture
def hive_with_api(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    """Private-network agents on the real Claude CLI, the scripted API reached through its Unix socket."""
    (short_tmp / "api").mkdir()
    with ScriptedApi(unix_socket=short_tmp / "api" / "api.sock") as api:
        running = start_hive(short_tmp / "hive", {"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                                  **api.unix_env()})
        try:
            yield running, api
        finally:
            end_hive(running)


@pytest.mark.claude
def test_an_agent_sees_only_its_own_home_and_cannot_write_the_host(
    hive_with_api: tuple[HiveProcess, ScriptedApi], short_tmp: Path
) -> None:
    hive, api = hive_with_api
    spawn(hive, "alice")
    spawn(hive, "bob")
    wait_for(lambda: connected(hive, "alice") and connected(hive, "bob"), timeout=30)
    homes = hive.settings.state_dir / "agents"
    (homes / "bob" / "state" / "secret.txt").write_text("bob's")
    (homes / "alice" / "state" / "marker.txt").write_text("alice's")
    (short_tmp / "host-secret.txt").write_text("the host's")
    source_tree = Path(hyperhive.__file__).resolve().parents[2]
    # Canaries: real files in the host's home, /tmp and /var/tmp (the interpreter, maybe under the home,
    # is shown read-only, but nothing beside it).
    canaries = [Path.home() / f".hh-canary-{os.getpid()}", Path(f"/tmp/hh-canary-{os.getpid()}"),
                Path(f"/var/tmp/hh-canary-{os.getpid()}")]
    for canary in canaries:
        canary.write_text("must stay invisible")
    hidden = [homes / "bob" / "state" / "secret.txt", homes / "bob" / "state", short_tmp / "host-secret.txt",
              *[hive.settings.db_path] * (not hive.settings.database),  # the SQLite file, on that backend
              hive.settings.runtime_dir / "host.sock",
              hive.settings.runtime_dir / "sandboxes", source_tree / "pyproject.toml", *canaries]
    hidden += [p for p in (Path("/root/.claude"), Path("/root/.bashrc"), Path("/work/shared")) if p.exists()]
    # "hidden" must mean hidden, not absent: every path probed exists on the host.
    assert [p for p in [*hidden, Path("/etc/shadow")] if not p.exists()] == []
    written = [Path(sys.prefix) / "hh-probe", source_tree / "src" / "hh-probe"]
    script = PROBE.format(hidden=" ".join(map(str, hidden)), written=" ".join(map(str, written)))
    api.on("run the probe", reply.tool_use("Bash", {"command": script, "description": "probe the sandbox"}))
    api.on(after_tool("Bash"), reply.text("probed"))
    hive.host.request("send", to="alice", body="please run the probe")
    report = homes / "alice" / "state" / "probe.txt"
    try:
        wait_for(lambda: report.exists() and "done" in report.read_text(), timeout=90)
    finally:
        for canary in canaries:
            canary.unlink()
    seen = dict(line.split(" ", 1)[::-1] for line in report.read_text().splitlines() if line.count(" ") == 1)
    for path in [*map(str, hidden), "/etc/shadow"]:
        assert seen[path] == "hidden", f"alice can see {path}"
    assert seen["/hive/state/marker.txt"] == "visible"
    for path in [*map(str, written), "/usr/hh-probe", "/etc/hh-probe", "/hh-probe", "/run/hive/hh-probe"]:
        assert seen[path] == "refused", f"alice can write {path}"
    assert seen["/hive/state/hh-probe"] == "writable" and (homes / "alice" / "state" / "hh-probe").exists()
    assert "CapEff:\t0000000000000000" in report.read_text()  # root inside, but with no capabilities
    assert not (homes / "bob" / "state" / "hh-probe").exists() and not (Path(sys.prefix) / "hh-probe").exists()


# --- crash, restart, failed -----------------------------------------------------------------------------
def test_a_killed_harness_crashes_restarts_and_repeated_crashes_end_in_failed(hive: HiveProcess) -> None:
    status = spawn(hive, "alice")
    assert (status["state"], status["isolated"]) == ("running", True)
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    for crash in (1, 2, 3):
        before = sandbox(hive, "alice")
        assert alive(before["harness"])
        os.kill(before["harness"], signal.SIGKILL)
        wait_for(lambda n=crash: len(events_of(hive, "container_crash", "alice")) >= n, timeout=30)
        if crash < 3:  # max_restarts = 2: the third crash in the window is one too many
            wait_for(lambda old=before["keeper"]: restarted(hive, "alice", old), timeout=30)
            assert not alive(before["keeper"]) and not alive(before["init"])
    event = events_of(hive, "container_crash", "alice")[-1]
    assert event["signal"] == signal.SIGKILL and "killed by SIGKILL" in str(event["exit"])
    wait_for(lambda: row(hive, "alice")["state"] == "failed", timeout=30)
    assert row(hive, "alice")["failed"] is True
    # The row turns failed before the event is stored (the verdict first, then the telling): wait for it.
    wait_for(lambda: events_of(hive, "agent_failed", "alice"), timeout=30)
    assert not keepers_of(hive, "alice")  # nothing restarted behind the verdict


# --- the lifecycle verbs --------------------------------------------------------------------------------
def test_stop_kill_start_restart_destroy_revive_and_purge_do_what_they_say(hive: HiveProcess) -> None:
    spawn(hive, "alice")
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    first = sandbox(hive, "alice")

    hive.host.request("stop", name="alice")  # graceful: the harness ends on SIGTERM
    assert row(hive, "alice")["state"] == "stopped"
    assert not any(alive(pid) for pid in first.values()) and not keepers_of(hive, "alice")
    assert hive.host.request("events", agent="alice", kinds=["stopped"])["events"][-1]["payload"]["exit"] == (
        "exited with code 0")  # it ended on the SIGTERM, not on the SIGKILL after the stop timeout

    hive.host.request("start", name="alice")
    wait_for(lambda: restarted(hive, "alice", first["keeper"]), timeout=30)
    second = sandbox(hive, "alice")
    hive.host.request("kill", name="alice")  # SIGKILL, at once
    assert row(hive, "alice")["state"] == "stopped"
    assert not any(alive(pid) for pid in second.values())

    hive.host.request("start", name="alice")
    wait_for(lambda: restarted(hive, "alice", second["keeper"]), timeout=30)
    third = sandbox(hive, "alice")
    hive.host.request("restart", name="alice")
    wait_for(lambda: restarted(hive, "alice", third["keeper"]), timeout=30)
    assert not any(alive(pid) for pid in third.values())
    assert len(keepers_of(hive, "alice")) == 1

    home = hive.settings.state_dir / "agents" / "alice" / "state"
    (home / "notes.md").write_text("remember me")
    hive.host.request("destroy", name="alice")
    assert row(hive, "alice")["state"] == "destroyed"
    assert not keepers_of(hive, "alice")
    assert not (hive.settings.runtime_dir / "sandboxes" / "alice").exists()  # the runtime forgot it
    assert (home / "notes.md").read_text() == "remember me"  # the tombstone keeps its home
    with pytest.raises(RequestFailed, match="destroyed; revive it first"):
        hive.host.request("start", name="alice")

    hive.host.request("revive", name="alice")
    wait_for(lambda: restarted(hive, "alice", 0), timeout=30)
    assert (home / "notes.md").read_text() == "remember me"

    sent = hive.host.request("send", to="alice", body="kept after a purge")
    hive.host.request("destroy", name="alice", purge=True)
    assert "alice" not in hive.host.request("list")["agents"]
    assert not keepers_of(hive, "alice")
    settings = hive.settings
    for gone in (settings.state_dir / "agents" / "alice", settings.state_dir / "logs" / "alice",
                 settings.state_dir / "configs" / "alice", settings.state_dir / "applied" / "alice",
                 settings.runtime_dir / "agents" / "alice", settings.runtime_dir / "sandboxes" / "alice"):
        assert not gone.exists(), f"purge left {gone}"
    kept = [m for m in hive.host.request("recent", limit=50)["messages"] if m["id"] == sent["id"]]
    assert kept and kept[0]["body"] == "kept after a purge"  # its messages stay


CRAFTED = ["..", "/", "%2e%2e", ".", "", "../state", "a/../../x", "alice/..", "ALICE", " alice", "alice\x00",
           "abcdefghij", "a" * 300, "hive", "operator"]


def snapshot(root: Path, skip: tuple[Path, ...]) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime, but the files a running hive writes anyway."""
    found = {}
    for path in root.rglob("*"):
        if any(path == s or path.is_relative_to(s) for s in skip):
            continue
        with contextlib.suppress(FileNotFoundError):
            stat = path.lstat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_purge_with_crafted_names_is_refused_and_touches_nothing(hive: HiveProcess, short_tmp: Path) -> None:
    spawn(hive, "alice")
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    hive.host.request("register_peer", name="pat")
    (short_tmp / "outside").mkdir()
    (short_tmp / "outside" / "keep.txt").write_text("not the hive's")
    state = hive.settings.state_dir
    busy = (hive.log_path, state / "hive.db", state / "hive.db-wal", state / "hive.db-shm", state / "logs")
    before = snapshot(short_tmp, busy)
    for name in CRAFTED:
        for fields in ({"name": name}, {"agent_names": ["alice", name]}):
            with pytest.raises(RequestFailed) as refused:
                hive.host.request("destroy", purge=True, **fields)
            assert refused.value.code.value in ("invalid_name", "bad_request"), (name, refused.value)
    with pytest.raises(RequestFailed, match="ghost") as unknown:
        hive.host.request("destroy", name="ghost", purge=True)
    assert unknown.value.code.value == "not_found"
    with pytest.raises(RequestFailed, match="peer") as peer:
        hive.host.request("destroy", agent_names=["alice", "pat"], purge=True)  # all names checked first
    assert peer.value.code.value == "not_allowed"
    assert snapshot(short_tmp, busy) == before
    assert row(hive, "alice")["state"] == "running" and len(keepers_of(hive, "alice")) == 1


# --- bind mounts --------------------------------------------------------------------------------------
def mount(host: Path | str, target: str = "/mnt/data", mode: str = "ro") -> str:
    return f'\n[[bind_mounts]]\nhost = "{host}"\ntarget = "{target}"\nmode = "{mode}"\n'


def test_bind_mounts_outside_the_roots_are_refused_at_spawn_with_the_path_named(
    hive: HiveProcess, short_tmp: Path
) -> None:
    roots, outside = short_tmp / "roots", short_tmp / "outside"
    (roots / "data").mkdir(parents=True)
    outside.mkdir()
    (roots / "link").symlink_to(outside)
    (roots / "swap").symlink_to(roots / "data")
    (hive.settings.state_dir / "host.toml").write_text(f'bind_roots = ["{roots}", "{short_tmp / "hive"}"]\n')
    refusals = {
        "out": (outside, [str(outside), "outside the allowed bind roots"]),
        "link": (roots / "link", [str(roots / "link"), f"resolves to '{outside}'"]),
        "dots": (f"{roots}/../outside", [f"{roots}/../outside", "outside the allowed bind roots"]),
        "own": (hive.settings.state_dir, [str(hive.settings.state_dir), "the hive's own"]),
        "sock": (hive.settings.runtime_dir, [str(hive.settings.runtime_dir), "the hive's own"]),
    }
    for name, (host, said) in refusals.items():
        with pytest.raises(RequestFailed) as refused:
            spawn(hive, name, mount(host))
        for words in said:
            assert words in refused.value.message, (name, refused.value.message)
        assert name not in hive.host.request("list")["agents"]
        assert not keepers_of(hive, name)
    status = spawn(hive, "ok", mount(roots / "swap", mode="rw"))
    assert status["state"] == "running"
    wait_for(lambda: connected(hive, "ok"), timeout=30)
    # A symlink approved inside the roots and re-pointed outside afterwards is caught at the next start.
    (roots / "swap").unlink()
    (roots / "swap").symlink_to(outside)
    with pytest.raises(RequestFailed) as refused:
        hive.host.request("restart", name="ok")
    assert str(roots / "swap") in refused.value.message and "outside the allowed bind roots" in refused.value.message
    assert not keepers_of(hive, "ok")


def test_a_refused_spawn_leaves_the_name_free(hive: HiveProcess, short_tmp: Path) -> None:
    (short_tmp / "roots").mkdir()
    (hive.settings.state_dir / "host.toml").write_text(f'bind_roots = ["{short_tmp / "roots"}"]\n')
    with pytest.raises(RequestFailed, match="outside the allowed bind roots"):
        spawn(hive, "out", mount(short_tmp))
    assert spawn(hive, "out")["state"] == "running"


# --- a daemon kill -9 -----------------------------------------------------------------------------------
def test_bwrap_agents_outlive_a_daemon_kill9_and_are_adopted_without_duplicates(hive: HiveProcess) -> None:
    spawn(hive, "alice")
    spawn(hive, "bob")
    wait_for(lambda: connected(hive, "alice") and connected(hive, "bob"), timeout=30)
    alice, bob = sandbox(hive, "alice"), sandbox(hive, "bob")
    hive.kill9()
    assert all(alive(pid) for pid in alice.values()), "the sandbox must outlive the daemon"
    os.kill(bob["harness"], signal.SIGKILL)  # bob dies while no daemon watches
    wait_for(lambda: not alive(bob["keeper"]))
    since = time.time()
    hive.start()
    assert row(hive, "alice")["state"] == "running"
    assert sandbox(hive, "alice") == alice and keepers_of(hive, "alice") == [alice["keeper"]]  # adopted, not restarted
    wait_for(lambda: seen_since(hive, "alice", since), timeout=30)  # its harness reconnected by itself
    crash = wait_for(lambda: events_of(hive, "container_crash", "bob"), timeout=30)[0]
    assert crash["while_daemon_was_down"] is True and crash["signal"] == signal.SIGKILL
    wait_for(lambda: row(hive, "bob")["state"] == "running" and restarted(hive, "bob", bob["keeper"]), timeout=30)
    assert len(keepers_of(hive, "bob")) == 1 and sandbox(hive, "bob")["keeper"] != bob["keeper"]
    hive.host.request("stop", name="alice")  # the adopted sandbox obeys the new daemon
    assert not any(alive(pid) for pid in alice.values())


def test_the_status_row_shows_the_harness_idle_again_after_a_daemon_restart(hive: HiveProcess) -> None:
    spawn(hive, "alice")
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    hive.kill9()
    since = time.time()
    hive.start()
    wait_for(lambda: seen_since(hive, "alice", since), timeout=30)
    wait_for(lambda: connected(hive, "alice"), timeout=5)



def test_a_stopped_agent_shows_no_activity(hive: HiveProcess) -> None:
    spawn(hive, "alice")
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    hive.host.request("stop", name="alice")
    wait_for(lambda: row(hive, "alice")["activity"] is None, timeout=5)


# --- hivectl logs ---------------------------------------------------------------------------------------
def hivectl(hive: HiveProcess, *args: str, **popen: Any) -> Any:
    argv = [sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir", str(hive.settings.runtime_dir), *args]
    if popen:
        return subprocess.Popen(argv, **popen)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def read_until(proc: subprocess.Popen[bytes], needle: bytes, timeout: float = 10) -> bytes:
    """Lines from a subprocess's stdout until one holds `needle` (select, not sleep)."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"{needle!r} not printed within {timeout} s; printed: {seen!r}")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"ended before printing {needle!r}; printed: {seen!r}")
        seen += line
    return seen


def test_hivectl_logs_tails_and_follows_the_harness_log(hive: HiveProcess) -> None:
    spawn(hive, "alice")
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    shown = hivectl(hive, "logs", "alice", "-n", "5")
    assert shown.returncode == 0 and "starting sandbox alice" in shown.stdout
    assert len(shown.stdout.splitlines()) <= 5
    as_json = json.loads(hivectl(hive, "--json", "logs", "alice", "-n", "1").stdout)
    assert isinstance(as_json, list) and len(as_json) == 1
    missing = hivectl(hive, "logs", "ghost")
    assert missing.returncode == 4 and "ghost" in missing.stderr  # not_found

    follower = hivectl(hive, "logs", "-f", "-n", "1", "alice", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       bufsize=0)  # unbuffered: select() must see every byte not yet read
    try:
        read_until(follower, b"\n")  # the tail: it is following from here on
        hive.host.request("stop", name="alice")  # the keeper writes its last line as the sandbox ends
        started = time.monotonic()
        read_until(follower, b"sandbox alice ended")
        assert time.monotonic() - started < 5
        hive.host.request("start", name="alice")
        read_until(follower, b"starting sandbox alice")
        hive.host.request("destroy", name="alice", purge=True)  # its log dir goes: following ends
        assert follower.wait(10) == 1
        assert follower.stderr is not None and b"was removed" in follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        for stream in (follower.stdout, follower.stderr):
            if stream is not None:
                stream.close()
