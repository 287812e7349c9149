"""The resident Claude Code CLI (agent/resident.py) on the real pinned CLI against the scripted Messages API:
one process across turns, a new one when the model or session changes, let go when idle, and a crash, an
interrupt, a timeout and a cancel each ending the turn at once."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperhive.agent.claude_driver import BrainConfig, ClaudeDriver, TurnOutcome
from hyperhive.agent.resident import ResidentDriver, driver_for
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

MODEL = "claude-scripted-1"
pytestmark = pytest.mark.claude


def brain() -> BrainConfig:
    return BrainConfig(model=MODEL, system_prompt="You are t1, a test agent.", allowed_tools=[], mcp_servers={},
                       hyperhive_mcp_command=[], tools=[])


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi(default=reply.text("ok")) as running:
        yield running


def resident(claude_bin: str, state: Path, api: ScriptedApi, idle: float = 300.0) -> ResidentDriver:
    env = {"PATH": os.environ["PATH"], "HOME": str(state), "CLAUDE_CODE_MAX_RETRIES": "0", **api.env()}
    return ResidentDriver(Path(claude_bin), state, brain(), env, idle_seconds=idle)


async def ignore(_: Any) -> None:
    return None


async def turn(driver: ResidentDriver, prompt: str, session_id: str | None = None, **kw: Any) -> TurnOutcome:
    return await driver.run_turn(prompt, session_id=session_id, on_event=ignore, on_stderr=ignore, **kw)


async def exited(pid: int) -> None:
    """Until the process is gone: its pidfd becomes readable (no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, gone.set)
    try:
        await asyncio.wait_for(gone.wait(), 20)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def held_turn(driver: ResidentDriver, api: ScriptedApi, release: threading.Event, session_id: str | None,
                    **kw: Any) -> asyncio.Task[TurnOutcome]:
    """A turn that is inside its API request (held there until `release`)."""
    before = len(api.message_requests)
    api.script(reply.hang(release))
    running = asyncio.create_task(turn(driver, "hold on", session_id, **kw))
    await asyncio.to_thread(api.wait_for_request, None, 60.0, after=before)
    return running


def test_the_setting_picks_the_driver(tmp_path: Path) -> None:
    def pick(settings: dict[str, str]) -> ClaudeDriver:
        return driver_for(Path("claude"), tmp_path, brain(), {}, settings)

    assert type(pick({})) is ResidentDriver
    assert type(pick({"HYPERHIVE_CLAUDE_PROCESS": "per-turn"})) is ClaudeDriver
    assert isinstance(chosen := pick({"HYPERHIVE_CLAUDE_IDLE_SECONDS": "7"}), ResidentDriver)
    assert chosen.idle_seconds == 7
    with pytest.raises(ValueError, match="HYPERHIVE_CLAUDE_PROCESS"):
        pick({"HYPERHIVE_CLAUDE_PROCESS": "sometimes"})
    for bad in ("0", "soon", "nan"):
        with pytest.raises(ValueError, match="HYPERHIVE_CLAUDE_IDLE_SECONDS must be a positive number"):
            pick({"HYPERHIVE_CLAUDE_IDLE_SECONDS": bad})


async def test_one_process_serves_two_turns_of_one_session(claude_bin: str, tmp_path: Path,
                                                           api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    api.on("first", reply.text("one"))
    api.on("second", reply.text("two"))
    try:
        first = await turn(driver, "first")
        pid = driver.pid
        assert first.kind == "ok" and first.note == "one" and pid is not None
        second = await turn(driver, "second", first.session_id)
        assert second.kind == "ok" and second.note == "two" and second.session_id == first.session_id
        assert driver.pid == pid  # the same CLI, still running between the turns
        assert "first" in api.message_requests[-1].all_text  # the history is the session's
    finally:
        await driver.close()
    await exited(pid)
    assert driver.pid is None


async def test_a_new_model_or_a_new_session_starts_a_new_process(claude_bin: str, tmp_path: Path,
                                                                  api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    try:
        first = await turn(driver, "hello")
        pid = driver.pid
        assert pid is not None
        other = await driver.run_turn("again", session_id=first.session_id, model="claude-other-1",
                                      on_event=ignore, on_stderr=ignore)
        assert other.kind == "ok" and other.session_id == first.session_id
        assert api.message_requests[-1].model == "claude-other-1"
        await exited(pid)  # the old one is gone, not left beside the new one
        switched = driver.pid
        assert switched not in (None, pid)
        fresh = await driver.run_turn("anew", session_id=None, model="claude-other-1", on_event=ignore,
                                      on_stderr=ignore)
        assert fresh.kind == "ok" and fresh.session_id != first.session_id
        assert driver.pid not in (None, pid, switched)
    finally:
        await driver.close()


async def test_an_idle_process_is_let_go_and_the_next_turn_resumes(claude_bin: str, tmp_path: Path,
                                                                   api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api, idle=0.5)
    try:
        first = await turn(driver, "remember the word zebra")
        pid = driver.pid
        assert pid is not None
        await exited(pid)
        assert driver.pid is None and not driver.running()
        second = await turn(driver, "which word?", first.session_id)
        assert second.kind == "ok" and second.session_id == first.session_id
        assert "zebra" in api.message_requests[-1].all_text
    finally:
        await driver.close()


async def test_a_crash_mid_turn_ends_the_turn_at_once(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    release = threading.Event()
    try:
        first = await turn(driver, "hello")
        pid = driver.pid
        assert pid is not None
        running = await held_turn(driver, api, release, first.session_id)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        outcome = await running
        noticed = time.monotonic() - killed
        assert outcome.kind == "crashed" and "SIGKILL" in outcome.note, outcome
        assert noticed < 1.0, noticed
        assert outcome.session_id == first.session_id
        again = await turn(driver, "after the crash", first.session_id)
        assert again.kind == "ok" and again.session_id == first.session_id
        assert driver.pid not in (None, pid)
    finally:
        release.set()
        await driver.close()


async def test_an_interrupt_ends_the_turn_and_keeps_process_and_session(claude_bin: str, tmp_path: Path,
                                                                        api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    release = threading.Event()
    try:
        first = await turn(driver, "hello")
        pid = driver.pid
        running = await held_turn(driver, api, release, first.session_id)
        started = time.monotonic()
        await driver.interrupt()
        took = time.monotonic() - started
        outcome = await running
        assert outcome.kind == "interrupted" and took < 1.0, (outcome, took)
        assert driver.pid == pid and not driver.running()
        release.set()
        again = await turn(driver, "after the interrupt", first.session_id)
        assert again.kind == "ok" and again.session_id == first.session_id and driver.pid == pid
        assert "hold on" in api.message_requests[-1].all_text
    finally:
        release.set()
        await driver.close()


async def test_a_timeout_and_a_cancel_stop_the_turn(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    release = threading.Event()
    try:
        first = await turn(driver, "hello")
        pid = driver.pid
        before = len(api.message_requests)
        api.script(reply.hang(release))
        timed = await turn(driver, "hold on", first.session_id, timeout=1.0)
        assert timed.kind == "timeout" and len(api.message_requests) > before
        assert driver.pid == pid
        running = await held_turn(driver, api, release, first.session_id)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert not driver.running()
        again = await turn(driver, "after the cancel", first.session_id)
        assert again.kind == "ok" and driver.pid == pid
    finally:
        release.set()
        await driver.close()


async def test_a_session_gone_from_disk_starts_a_new_one(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    notes: list[str] = []

    async def note(text: str) -> None:
        notes.append(text)

    try:
        gone = str(uuid.uuid4())
        outcome = await driver.run_turn("hello", session_id=gone, on_event=ignore, on_stderr=note)
        assert outcome.kind == "ok" and outcome.session_id not in (None, gone)
        assert any("is gone" in n for n in notes)
    finally:
        await driver.close()


async def test_compaction_runs_in_a_process_of_its_own(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    driver = resident(claude_bin, tmp_path, api)
    api.on("/compact", reply.text("<summary>we said hello</summary>"))
    try:
        first = await turn(driver, "hello")
        pid = driver.pid
        assert pid is not None
        compacted = await driver.compact(first.session_id or "")
        assert compacted.session_id == first.session_id
        await exited(pid)
        assert driver.pid is None
        again = await turn(driver, "after compacting", first.session_id)
        assert again.kind == "ok" and driver.pid not in (None, pid)
    finally:
        await driver.close()


async def test_a_cli_that_cannot_start_fails_the_turn_at_once(tmp_path: Path) -> None:
    driver = ResidentDriver(tmp_path / "no-such-claude", tmp_path, brain(), {"PATH": "/bin"})
    started = time.monotonic()
    with pytest.raises(FileNotFoundError):
        await turn(driver, "hello")
    assert time.monotonic() - started < 2.0 and not driver.running() and driver.pid is None


async def test_a_refused_login_lets_the_cli_go(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    """The CLI holds the refused credentials in memory: the retry (and a turn after `hivectl login`) starts
    one that reads them again."""
    driver = resident(claude_bin, tmp_path, api)
    try:
        first = await turn(driver, "hello")
        pid = driver.pid
        assert pid is not None
        api.script(reply.auth_failed())
        refused = await turn(driver, "again", first.session_id)
        assert refused.kind == "auth_failed", refused
        await exited(pid)
        assert driver.pid is None
        after = await turn(driver, "after the login", first.session_id)
        assert after.kind == "ok" and after.session_id == first.session_id
    finally:
        await driver.close()
