"""One Claude Code turn = one `claude --print --output-format stream-json` subprocess.

The prompt goes in on stdin (no argv length limit); every stdout line is parsed and handed to `on_event`
as it arrives; the session id the CLI reports is resumed next turn with `--resume`. The CLI runs in its
own process group (it and its MCP servers), and that group is killed when the turn ends, whatever ended
it: nothing outlives a turn. Why the CLI and not claude-agent-sdk: docs/claude-driver.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from .claude_files import BrainConfig, ClaudeFiles
from .permission_prompt import permission_args
from .stream_json import StreamLine
from .turn_stats import OutcomeKind, Stop, TurnOutcome, TurnRecord, TurnStats

__all__ = ["BrainConfig", "ClaudeDriver", "OutcomeKind", "TurnOutcome", "TurnStats"]

OnEvent = Callable[[StreamLine], Awaitable[None]]
OnStderr = Callable[[str], Awaitable[None]]

# SIGINT ends a turn in ~0.1 s (measured); past this the group gets SIGKILL.
STOP_GRACE = 5.0
STDERR_TAIL = 20
CHUNK = 1 << 16
# Ours win over the agent's env: sessions must stay where the next turn looks for them.
FORCED_ENV = ("CLAUDE_CONFIG_DIR",)


def default_env(state_dir: Path) -> dict[str, str]:
    return {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # else ~5 connections a turn that ignore the base URL
        "DISABLE_AUTOUPDATER": "1",  # the CLI is pinned by the installer, never by itself
        "ENABLE_TOOL_SEARCH": "false",  # MCP tool schemas inline: the model sees `send` without a search step
        "CLAUDE_CONFIG_DIR": str(state_dir / ".claude"),
    }


async def _ignore(_: Any) -> None:
    return None


class ClaudeDriver:
    def __init__(self, claude_bin: Path, state_dir: Path, brain: BrainConfig, base_env: Mapping[str, str]) -> None:
        self.claude_bin = Path(claude_bin)
        self.state_dir = Path(state_dir)
        self.brain = brain
        self.files = ClaudeFiles(self.state_dir, brain)
        defaults = default_env(self.state_dir)
        self.env = {**defaults, **base_env, **brain.env} | {k: defaults[k] for k in FORCED_ENV}
        self._proc: asyncio.subprocess.Process | None = None
        self._busy = False
        self._stop: Stop | None = None
        self._killer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._missing = False  # the last run's --resume named a session the CLI does not have
        self._mute = False  # stop calling on_event/on_stderr: the caller has gone
        self._ended = asyncio.Event()
        self._ended.set()

    # --- the public verbs --------------------------------------------------------------------------
    def running(self) -> bool:
        return self._busy

    @property
    def pid(self) -> int | None:
        """The running CLI's pid (its process group id too)."""
        return self._proc.pid if self._proc is not None else None

    async def run_turn(self, prompt: str, *, session_id: str | None, model: str | None = None,
                       on_event: OnEvent, on_stderr: OnStderr, timeout: float | None = None) -> TurnOutcome:
        """Run one turn. Cancelling the calling task stops the CLI (SIGINT, then SIGKILL) before re-raising.

        A `session_id` the CLI no longer has (its transcript was deleted) is reported on `on_stderr` and
        the prompt runs again in a new session, rather than failing every turn from now on."""
        outcome = await self._one_turn(prompt, session_id, model, on_event, on_stderr, timeout)
        if session_id and outcome.kind == "error" and outcome.session_id == session_id and self._missing:
            await on_stderr(f"session {session_id} is gone from {self.env['CLAUDE_CONFIG_DIR']}; "
                            "starting a new session")
            outcome = await self._one_turn(prompt, None, model, on_event, on_stderr, timeout)
        return outcome

    async def close(self) -> None:
        """Nothing outlives a turn here; the resident driver lets its CLI go."""

    async def compact(self, session_id: str, *, instructions: str = "", on_event: OnEvent = _ignore,
                      on_stderr: OnStderr = _ignore, timeout: float | None = None) -> TurnOutcome:
        """Summarise the session in place (the CLI's `/compact`, which works in --print; the id is kept)."""
        prompt = f"/compact {instructions}".strip()
        return await self._run(prompt, session_id, None, on_event, on_stderr, timeout)

    async def interrupt(self) -> None:
        """Stop the running turn (it ends `interrupted`, its session resumable) and wait until it has."""
        if not self._busy:
            return
        self._request_stop("interrupt")
        await self._ended.wait()

    async def _one_turn(self, prompt: str, session_id: str | None, model: str | None, on_event: OnEvent,
                        on_stderr: OnStderr, timeout: float | None) -> TurnOutcome:
        """One message's turn: a process of its own here (resident.py keeps one across turns)."""
        return await self._run(prompt, session_id, model, on_event, on_stderr, timeout)

    # --- one process -------------------------------------------------------------------------------
    def command(self, session_id: str | None, model: str | None) -> list[str]:
        argv = [str(self.claude_bin), "--print", "--output-format", "stream-json", "--verbose",
                "--strict-mcp-config", "--mcp-config", str(self.files.mcp),
                "--settings", str(self.files.settings),
                "--append-system-prompt-file", str(self.files.system_prompt),
                # Off: a resumed session would otherwise keep the prompt of its first turn for good,
                # and an approved change to the agent's description would never reach it.
                "--system-prompt-snapshot", "off",
                *permission_args(self.brain)]  # ask rules: prompts go to the operator; else nobody, denied
        if model or self.brain.model:
            argv += ["--model", model or self.brain.model]
        if self.brain.tools is not None:
            argv += ["--tools", ",".join(self.brain.tools)]
        if session_id:
            argv += ["--resume", session_id]
        return argv

    async def _run(self, prompt: str, session_id: str | None, model: str | None, on_event: OnEvent,
                   on_stderr: OnStderr, timeout: float | None) -> TurnOutcome:
        if self._busy:
            raise RuntimeError("a turn is already running")
        self._busy, self._stop, self._missing, self._mute = True, None, False, False
        self._ended.clear()
        record = TurnRecord(model or self.brain.model)
        started = time.monotonic()
        try:
            self.files.write()
            (self.state_dir / ".claude").mkdir(parents=True, exist_ok=True)
            proc = self._proc = await asyncio.create_subprocess_exec(
                *self.command(session_id, model), cwd=self.state_dir, env=self.env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
            if self._stop is not None:
                self._signal_stop()  # an interrupt that came while the CLI was being spawned
            loop = asyncio.get_running_loop()
            timer = loop.call_later(timeout, self._request_stop, "timeout") if timeout is not None else None
            try:
                tail = await self._communicate(proc, prompt, record, on_event, on_stderr)
            finally:
                if timer is not None:
                    timer.cancel()
            self._missing = record.missing_session
            assert proc.returncode is not None
            wall_ms = int((time.monotonic() - started) * 1000)
            return record.outcome(proc.returncode, tail, self._stop, session_id, wall_ms)
        finally:
            await self._reap()

    async def _communicate(self, proc: asyncio.subprocess.Process, prompt: str, record: TurnRecord,
                           on_event: OnEvent, on_stderr: OnStderr) -> list[str]:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        tail: list[str] = []
        out = asyncio.create_task(self._read_stdout(proc.stdout, record, on_event, on_stderr))
        err = asyncio.create_task(self._read_stderr(proc.stderr, tail, on_stderr))
        exited = asyncio.create_task(proc.wait())
        self._tasks = [out, err, exited]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it may die before reading
            proc.stdin.write(prompt.encode())
            await proc.stdin.drain()
            proc.stdin.close()
        await asyncio.wait({out, exited}, return_when=asyncio.FIRST_COMPLETED)
        if out.done():
            out.result()  # an on_event that raised: _reap stops the CLI, the error goes to our caller
        await exited
        # The CLI is gone; kill what is left of its group now, so no stray copy of a pipe keeps us waiting.
        self._kill_group()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(out, err), STOP_GRACE)
        return tail

    async def _read_stdout(self, stream: asyncio.StreamReader, record: TurnRecord, on_event: OnEvent,
                           on_stderr: OnStderr) -> None:
        async for raw in _lines(stream):
            try:
                line = _json_object(raw)
            except ValueError:
                await self._tell(on_stderr, f"[stdout] {raw.decode(errors='replace')}")
                continue
            record.feed(line)
            if not self._mute:
                await on_event(line)

    async def _read_stderr(self, stream: asyncio.StreamReader, tail: list[str], on_stderr: OnStderr) -> None:
        async for raw in _lines(stream):
            text = raw.decode(errors="replace").rstrip()
            if text:
                tail.append(text)
                del tail[:-STDERR_TAIL]
                await self._tell(on_stderr, text)

    async def _tell(self, on_stderr: OnStderr, text: str) -> None:
        if not self._mute:
            await on_stderr(text)

    # --- stopping ----------------------------------------------------------------------------------
    def _request_stop(self, why: Stop) -> None:
        if self._stop is None:
            self._stop = why
            self._signal_stop()

    def _signal_stop(self) -> None:
        """SIGINT the CLI alone (its MCP servers are its to close), and SIGKILL the group after a grace.
        Before the spawn this does nothing; _run signals as soon as there is a process."""
        proc = self._proc
        if proc is None or proc.returncode is not None or self._killer is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        self._killer = asyncio.get_running_loop().call_later(STOP_GRACE, self._kill_group)

    def _kill_group(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    async def _reap(self) -> None:
        """Runs on every way out of _run, a cancelled one included: the CLI is stopped (SIGINT, then the
        group's SIGKILL), waited for, and its readers are gone before the next turn can start."""
        proc = self._proc
        self._mute = True  # a caller that was cancelled, or whose callback failed, hears no more
        try:
            if proc is not None and proc.returncode is None:
                self._request_stop("cancel")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), STOP_GRACE)
                self._kill_group()
            if proc is not None:
                await proc.wait()  # instant after SIGKILL; lets asyncio close the transport
        finally:
            self._kill_group()
            if self._killer is not None:
                self._killer.cancel()
            tasks = self._tasks
            for task in tasks:
                task.cancel()
            # Idle again before the last await, so even a second cancel cannot leave the driver "running".
            self._proc, self._killer, self._tasks, self._busy = None, None, [], False
            self._ended.set()
            if tasks:
                await asyncio.wait(tasks)  # unlike awaiting each, never mistakes their end for ours
            for task in tasks:
                if not task.cancelled():
                    task.exception()  # already raised to the caller by _communicate, or meaningless now


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Lines of any length: StreamReader.readline stops at 64 KiB, and one tool result can be a whole file."""
    pending = b""
    while chunk := await stream.read(CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _json_object(raw: bytes) -> StreamLine:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
