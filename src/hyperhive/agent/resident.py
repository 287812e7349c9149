"""A resident Claude Code CLI per agent: one `claude --print --input-format stream-json` fed a turn per message.

Starting the CLI is most of a warm turn's cost (decisions.md), so this driver keeps one process across turns
and writes each turn's prompt to its stdin as a stream-json `user` line; the turn ends at its `result` line.
It is let go (stdin closed: the CLI exits by itself) when what it was started with no longer holds — another
model, a new or changed session, other brain files — before a compaction (a process of its own, as before),
after `idle_seconds` without a turn, and on close. Measured on the pinned CLI 2.1.331 (tests/agent/
test_resident.py): a `control_request` interrupt ends the running turn with a `result` in ~50 ms and keeps
the process and its session; SIGINT would end the whole process without a result, so it is never sent.
A CLI that dies is noticed when its exit is reaped (asyncio's child watcher, no polling): the turn running
then ends `crashed` (the loop retries it once, then parks it) and the next turn starts a new CLI that resumes
the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claude_driver import STDERR_TAIL, STOP_GRACE, ClaudeDriver, OnEvent, OnStderr, _json_object, _lines
from .claude_files import BrainConfig
from .stream_json import InputLine, StreamLine, session_of
from .turn_stats import TurnOutcome, TurnRecord

log = logging.getLogger(__name__)

IDLE_SECONDS = 120.0
MODES = ("resident", "per-turn")
MODE_ENV = "HYPERHIVE_CLAUDE_PROCESS"
IDLE_ENV = "HYPERHIVE_CLAUDE_IDLE_SECONDS"


def driver_for(claude_bin: Path, state_dir: Path, brain: BrainConfig, base_env: Mapping[str, str],
               settings: Mapping[str, str]) -> ClaudeDriver:
    """The driver the settings ask for (`HYPERHIVE_CLAUDE_PROCESS`, `HYPERHIVE_CLAUDE_IDLE_SECONDS`)."""
    mode = settings.get(MODE_ENV) or MODES[0]
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "per-turn":
        return ClaudeDriver(claude_bin, state_dir, brain, base_env)
    try:
        idle = float(settings.get(IDLE_ENV) or IDLE_SECONDS)
    except ValueError:
        idle = -1.0
    if not idle > 0:
        raise ValueError(f"{IDLE_ENV} must be a positive number of seconds, not {settings.get(IDLE_ENV)!r}")
    return ResidentDriver(claude_bin, state_dir, brain, base_env, idle_seconds=idle)


@dataclass
class _Turn:
    record: TurnRecord
    on_event: OnEvent
    on_stderr: OnStderr
    done: asyncio.Future[int | None]  # None: its result line came; an int: the CLI exited first, with this
    tail: list[str] = field(default_factory=list)
    error: BaseException | None = None  # what on_event raised


@dataclass(frozen=True)
class _Key:
    """What a CLI was started with; a turn that wants anything else needs a new one."""

    model: str
    files: tuple[str, ...]


class _Cli:
    def __init__(self, proc: asyncio.subprocess.Process, key: _Key, session: str | None) -> None:
        self.proc = proc
        self.key = key
        self.session = session  # the session it is on: resumed at start, then the one its lines name
        self.tasks: list[asyncio.Task[Any]] = []
        self.exited = asyncio.Event()

    def send(self, line: InputLine) -> None:
        assert self.proc.stdin is not None
        if not self.proc.stdin.is_closing():
            self.proc.stdin.write(json.dumps(line).encode() + b"\n")

    async def drain(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it died: the exit ends the turn
            await self.proc.stdin.drain()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class ResidentDriver(ClaudeDriver):
    def __init__(self, claude_bin: Path, state_dir: Path, brain: BrainConfig, base_env: Mapping[str, str],
                 idle_seconds: float = IDLE_SECONDS) -> None:
        super().__init__(claude_bin, state_dir, brain, base_env)
        self.idle_seconds = idle_seconds
        self._cli: _Cli | None = None
        self._turn: _Turn | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._letting_go: asyncio.Task[None] | None = None
        self._requests = 0

    @property
    def pid(self) -> int | None:
        return self._cli.proc.pid if self._cli is not None else super().pid

    async def close(self) -> None:
        self._cancel_idle()
        await self._let_go("the harness stops")

    async def compact(self, session_id: str, **kw: Any) -> TurnOutcome:
        """`/compact` runs in a CLI of its own, as per turn; the resident one would not see its result."""
        await self._let_go("compacting")
        return await super().compact(session_id, **kw)

    # --- a turn ------------------------------------------------------------------------------------
    async def _one_turn(self, prompt: str, session_id: str | None, model: str | None, on_event: OnEvent,
                        on_stderr: OnStderr, timeout: float | None) -> TurnOutcome:
        if self._busy:
            raise RuntimeError("a turn is already running")
        self._busy, self._stop, self._missing, self._mute = True, None, False, False
        self._ended.clear()
        self._cancel_idle()
        record = TurnRecord(model or self.brain.model)
        started = time.monotonic()
        turn: _Turn | None = None
        try:
            key = self._prepare(model)
            cli = self._cli
            if cli is not None and (cli.key != key or cli.session != session_id or cli.exited.is_set()):
                await self._let_go("the model, the session or the brain's files changed")
            if self._letting_go is not None:
                await self._letting_go
            turn = self._turn = _Turn(record, on_event, on_stderr, asyncio.get_running_loop().create_future())
            cli = self._cli = self._cli or await self._spawn(session_id, model, key)
            timer = asyncio.get_running_loop().call_later(timeout, self._request_stop, "timeout") \
                if timeout is not None else None
            try:
                if self._stop is None:  # else stopped while the CLI was starting: the prompt is never sent
                    cli.send({"type": "user", "message": {"role": "user", "content": prompt}})
                    await cli.drain()
                    returncode = await asyncio.shield(turn.done)  # a cancel must not end the future
                else:
                    returncode = 0
            finally:
                if timer is not None:
                    timer.cancel()
            if turn.error is not None:
                raise turn.error
            self._missing = record.missing_session
            wall_ms = int((time.monotonic() - started) * 1000)
            outcome = record.outcome(returncode or 0, turn.tail, self._stop, session_id, wall_ms)
            if outcome.kind == "auth_failed":
                # It keeps the refused credentials in memory (and writes its config dir, which the login wait
                # watches): the retry, and a turn after `hivectl login`, need a CLI that reads them afresh.
                await self._let_go("the API refused its credentials")
            return outcome
        finally:
            await self._end_turn(turn)

    def _prepare(self, model: str | None) -> _Key:
        self.files.write()
        (self.state_dir / ".claude").mkdir(parents=True, exist_ok=True)
        files = tuple(p.read_text() for p in (self.files.system_prompt, self.files.settings, self.files.mcp))
        return _Key(model or self.brain.model, files)

    async def _end_turn(self, turn: _Turn | None) -> None:
        """Every way out of a turn: one cancelled or whose callback failed is stopped (interrupt, then the
        group's SIGKILL after a grace) before the next can start; then the idle clock runs."""
        self._mute = True
        try:
            started = turn is not None and self._cli is not None  # else its CLI never started: nothing to stop
            if started and turn is not None and (turn.error is not None or not turn.done.done()):
                self._request_stop("cancel")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(turn.done), STOP_GRACE)
                if turn.error is not None or not turn.done.done():
                    await self._let_go("its turn could not be stopped", kill=True)
        finally:
            if self._killer is not None:
                self._killer.cancel()
            self._turn, self._killer, self._busy = None, None, False
            self._ended.set()
            if self._cli is not None:
                self._idle = asyncio.get_running_loop().call_later(self.idle_seconds, self._idle_out)

    # --- the process -------------------------------------------------------------------------------
    async def _spawn(self, session_id: str | None, model: str | None, key: _Key) -> _Cli:
        argv = [*self.command(session_id, model), "--input-format", "stream-json"]
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=self.state_dir, env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        cli = _Cli(proc, key, session_id)
        out = asyncio.create_task(self._read_stdout_of(cli), name=f"claude-{proc.pid}-out")
        err = asyncio.create_task(self._read_stderr_of(cli), name=f"claude-{proc.pid}-err")
        cli.tasks = [out, err, asyncio.create_task(self._watch_exit(cli, out), name=f"claude-{proc.pid}-exit")]
        log.info("resident CLI %d started (session %s, model %s)", proc.pid, session_id, key.model)
        return cli

    async def _read_stdout_of(self, cli: _Cli) -> None:
        assert cli.proc.stdout is not None
        async for raw in _lines(cli.proc.stdout):
            try:
                line = _json_object(raw)
            except ValueError:
                await self._stderr_line(f"[stdout] {raw.decode(errors='replace')}")
                continue
            cli.session = session_of(line) or cli.session
            if line.get("type") in ("control_response", "control_request"):
                continue  # the interrupt's answer: ours, not the transcript's
            await self._dispatch(cli, line)

    async def _dispatch(self, cli: _Cli, line: StreamLine) -> None:
        turn = self._turn
        if turn is None or turn.done.done() or cli is not self._cli:
            log.debug("a line from the resident CLI outside a turn: %s", line.get("type"))
            return
        turn.record.feed(line)
        if not self._mute:
            try:
                await turn.on_event(line)
            except Exception as exc:  # the caller's bug: it ends the turn and reaches the caller
                turn.error = exc
                turn.done.set_result(None)
                return
        if line.get("type") == "result":
            turn.done.set_result(None)

    async def _read_stderr_of(self, cli: _Cli) -> None:
        assert cli.proc.stderr is not None
        async for raw in _lines(cli.proc.stderr):
            text = raw.decode(errors="replace").rstrip()
            if text:
                await self._stderr_line(text)

    async def _stderr_line(self, text: str) -> None:
        turn = self._turn
        if turn is None or turn.done.done():
            log.info("resident CLI: %s", text)
            return
        turn.tail.append(text)
        del turn.tail[:-STDERR_TAIL]
        if not self._mute:
            await turn.on_stderr(text)

    async def _watch_exit(self, cli: _Cli, out: asyncio.Task[None]) -> None:
        """The CLI's exit, reaped the moment it happens: its group goes (no stray copy of a pipe keeps the
        readers waiting), its last lines are read, and a turn still running ends with the exit status."""
        returncode = await cli.proc.wait()
        cli.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(out), STOP_GRACE)
        cli.exited.set()
        if cli is self._cli:
            self._cli = None
            self._cancel_idle()
            turn = self._turn
            if turn is not None and not turn.done.done():
                turn.done.set_result(returncode)
            log.info("resident CLI %d exited with %d", cli.proc.pid, returncode)

    # --- stopping ----------------------------------------------------------------------------------
    def _signal_stop(self) -> None:
        """A resident turn is stopped with the CLI's interrupt control request (SIGINT would end the whole
        process without a result); the group gets SIGKILL after a grace if no result comes."""
        cli = self._cli
        if self._turn is None or cli is None:
            super()._signal_stop()  # a compaction's own process, or nothing yet
            return
        if cli.exited.is_set() or self._killer is not None:
            return
        self._requests += 1
        cli.send({"type": "control_request", "request_id": f"hive-{self._requests}",
                  "request": {"subtype": "interrupt"}})
        self._killer = asyncio.get_running_loop().call_later(STOP_GRACE, cli.kill)

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idle_out(self) -> None:
        self._idle = None
        if not self._busy and self._cli is not None:
            self._letting_go = asyncio.get_running_loop().create_task(self._let_go_now("idle", kill=False))

    async def _let_go(self, why: str, *, kill: bool = False) -> None:
        if self._letting_go is not None:
            await self._letting_go
        if self._cli is not None:
            self._letting_go = asyncio.get_running_loop().create_task(self._let_go_now(why, kill=kill))
            await self._letting_go

    async def _let_go_now(self, why: str, *, kill: bool) -> None:
        """Close its stdin (it finishes and exits by itself), or SIGKILL the group after a grace."""
        cli = self._cli
        try:
            if cli is None:
                return
            self._cli = None
            log.info("letting the resident CLI %d go: %s", cli.proc.pid, why)
            if kill:
                cli.kill()
            assert cli.proc.stdin is not None
            cli.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cli.proc.wait(), STOP_GRACE)
            cli.kill()
            await asyncio.wait(cli.tasks)
        finally:
            self._letting_go = None
