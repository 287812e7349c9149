"""`hivectl shell` and `hivectl login` in a real terminal (tmux) against an agent in a real bubblewrap
sandbox under a real hive-c0re (issue 15, items 12 and 13): the shell sees the sandbox, not the host; the
login runs the CLI's own login inside the sandbox on the agent's credentials dir, and the agent leaves
needs_login by itself once credentials appear there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperhive.client import RequestFailed
from hyperhive.core.hive import Hive
from hyperhive.runtime.identity import agent_uid
from tests.core.test_sandboxed_agents import connected, end_hive, events_of, row, sandbox, spawn, start_hive
from tests.support import api_replies as reply
from tests.support.agents import add_agent, host
from tests.support.hive import HiveProcess, wait_for
from tests.support.needs import require_bwrap, unavailable
from tests.support.reaper import acting_as_init
from tests.support.scripted_api import ScriptedApi

pytestmark = pytest.mark.bwrap


def needs(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        unavailable(tool, "not installed")
    return found


@pytest.fixture(autouse=True)
def _bwrap_tmux_and_a_reaper() -> Iterator[None]:
    require_bwrap()
    needs("tmux")
    with acting_as_init():
        yield


class Terminal:
    """One tmux session on its own server socket, running `argv`; read by capturing its pane."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.socket = f"hh-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        command = f"env {exports} {' '.join(map(_quote, argv))}; echo EXITED-$?; sleep 600"
        self.tmux(["new-session", "-d", "-s", "t", "-x", "200", "-y", "50", command])

    def tmux(self, args: list[str]) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def screen(self) -> str:
        return self.tmux(["capture-pane", "-p", "-J", "-S", "-200", "-t", "t"])

    def type(self, line: str) -> None:
        self.tmux(["send-keys", "-t", "t", "-l", line])
        self.tmux(["send-keys", "-t", "t", "Enter"])

    def shows(self, text: str, timeout: float = 30) -> str:
        """The screen once it shows `text` (a terminal has no event to wait on: this reads its pane)."""
        def showing() -> str:
            screen = self.screen()
            return screen if text in screen else ""

        try:
            return str(wait_for(showing, timeout=timeout, interval=0.05))
        except TimeoutError:
            raise AssertionError(f"the terminal never showed {text!r}; it shows:\n{self.screen()}") from None

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def hivectl(hive: HiveProcess, *args: str) -> Terminal:
    env = {"HYPERHIVE_RUNTIME_DIR": str(hive.settings.runtime_dir), "PATH": os.environ["PATH"], "TERM": "xterm"}
    return Terminal([sys.executable, "-m", "hyperhive.cli.hivectl", *args], env)


@pytest.fixture
def bwrap_hive(short_tmp: Path) -> Iterator[HiveProcess]:
    running = start_hive(short_tmp / "hive")
    try:
        yield running
    finally:
        end_hive(running)


async def test_no_way_in_to_an_agent_that_is_not_running(hive: Hive) -> None:
    await add_agent(hive, "alice")  # registered, never started
    with pytest.raises(RequestFailed) as caught:
        await host(hive, "sandbox_shell", name="alice")
    assert caught.value.code == "conflict" and "alice is not running" in caught.value.message
    with pytest.raises(RequestFailed) as unknown:
        await host(hive, "sandbox_shell", name="ghost")
    assert unknown.value.code == "not_found"


def test_a_shell_in_the_sandbox_sees_the_sandbox_not_the_host(bwrap_hive: HiveProcess, short_tmp: Path) -> None:
    hive = bwrap_hive
    spawn(hive, "alice")
    wait_for(lambda: connected(hive, "alice"), timeout=30)
    (short_tmp / "host-only.txt").write_text("the host's")
    term = hivectl(hive, "shell", "alice")
    try:
        term.type(f"id; pwd; ls /run/hive; hostname; grep CapEff /proc/self/status; "
                  f"cat {short_tmp / 'host-only.txt'} || echo NO-HOST-FILE; echo MARK-$((6*7))")
        screen = term.shows("MARK-42")
        # the agent's own identity: its uid when the hive is root (runtime/identity.py), else the hive's
        uid = agent_uid("alice") if os.geteuid() == 0 else os.geteuid()
        assert f"uid={uid}" in screen and "\n/hive/state\n" in screen
        assert "agent.toml" in screen and "mcp.sock" in screen  # /run/hive: the agent's socket dir
        assert "\nh-alice\n" in screen and "CapEff:\t0000000000000000" in screen.replace("CapEff: ", "CapEff:\t")
        assert "NO-HOST-FILE" in screen and "the host's" not in screen
        # pid 1 is the sandbox's bwrap, read from /proc (the base image has no procps): its name and argv[0]
        term.type("""printf 'pid1=%s:%s\\n' "$(cat /proc/1/comm)" "$(tr '\\0' ' ' </proc/1/cmdline | cut -c1-40)"; """
                  "echo PID1-$((2*3))")
        assert "pid1=bwrap:/usr/bin/bwrap " in term.shows("PID1-6")
        term.type("exit")
        term.shows("EXITED-0")
    finally:
        term.close()


@pytest.mark.claude
def test_login_runs_the_cli_login_in_the_sandbox_and_the_agent_picks_it_up(short_tmp: Path, claude_bin: str) -> None:
    (short_tmp / "api").mkdir()
    with ScriptedApi(unix_socket=short_tmp / "api" / "api.sock") as api:
        api.script(reply.auth_failed(), reply.auth_failed(), reply.text("logged in now"))
        hive = start_hive(short_tmp / "hive", {"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                               **api.unix_env()})
        try:
            spawn(hive, "alice")
            wait_for(lambda: connected(hive, "alice"), timeout=30)
            hive.host.request("send", to="alice", body="hello")
            wait_for(lambda: row(hive, "alice")["needs_login"], timeout=60)
            term = hivectl(hive, "login", "alice")
            try:
                screen = term.shows("Paste code here if prompted")
                assert "https://claude.ai/oauth/authorize" in screen
                init = sandbox(hive, "alice")["init"]
                # Inside: only a process in this sandbox shares its mount namespace. (Matched by command
                # line alone, a login of the same test in a suite run beside this one could be found.)
                login = _process(b"auth\0login\0", os.readlink(f"/proc/{init}/ns/mnt"))
                assert os.readlink(f"/proc/{login}/ns/net") == os.readlink("/proc/self/ns/net")  # host network
                assert b"CLAUDE_CONFIG_DIR=/hive/state/.claude\0" in Path(f"/proc/{login}/environ").read_bytes()
                # What the login leaves once the code is pasted (no real OAuth here): the agent notices alone.
                config_dir = hive.settings.state_dir / "agents" / "alice" / "state" / ".claude"
                (config_dir / ".credentials.json").write_text('{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x"}}')
                wait_for(lambda: not row(hive, "alice")["needs_login"], timeout=60)
            finally:
                term.close()
            assert [e["event"] for e in events_of(hive, "needs_login", "alice")] == ["needs_login"]
            assert events_of(hive, "logged_in", "alice")
        finally:
            end_hive(hive)


def _process(needle: bytes, mnt: str) -> int:
    """The pid of a running process whose command line contains `needle`, in the mount namespace `mnt`."""
    def find() -> int:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "cmdline").read_bytes() and os.readlink(entry / "ns" / "mnt") == mnt:
                        return int(entry.name)
                except OSError:
                    continue
        return 0
    return int(wait_for(find, timeout=10))
