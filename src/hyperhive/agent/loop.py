"""`hive-ag3nt run`: the turn loop. Inbox → one Claude Code turn per message → ack when the turn ended.

The loop never polls: it blocks in `recv` on its socket (the hive answers the instant mail arrives) and
in the control stream (the operator's interrupt, model, session and compact commands). What a turn's
outcome means for its message:

| outcome | the message | then |
|---|---|---|
| ok | acked | next message |
| interrupted | acked: it is in the session, and the operator stopped it on purpose | next message |
| rate_limited | kept in hand | wait for the reset the error gives (or the back-off), retry |
| auth_failed | kept in hand | retry once; then `needs_login`, wait for `logged_in` (or a long timer), retry |
| prompt_too_long | kept in hand | compact the session once, retry |
| budget_exhausted | kept in hand | wait for the hive's `budget_restored` (or the reset the refusal names), retry |
| crashed, timeout, error | kept in hand | retry once; then parked: acked, an event to the manager and operator |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from hyperhive.client import Unreachable, stream
from hyperhive.protocol import HiveError
from hyperhive.protocol import agent_requests as rq
from hyperhive.protocol.models import Message
from hyperhive.protocol.replies import Control

from ._watch import IN_CLOSE_WRITE, IN_MOVED_TO, FileWatch
from .claude_driver import BrainConfig, ClaudeDriver, OutcomeKind, TurnOutcome
from .link import HiveLink
from .prompts import checkpoint_prompt, wake_prompt
from .reconnect import Reconnect
from .reporter import Reporter
from .session_file import SessionFile
from .stream_json import StreamLine, session_of
from .tool_host import ToolHost
from .turn_ledger import TurnLedger

log = logging.getLogger(__name__)

# Where a login leaves the CLI's credentials, in its config dir: OAuth tokens, or an API key's approval.
CREDENTIAL_FILES = (".credentials.json", ".claude.json")
RECV_WAIT = 180.0  # the protocol's maximum; an idle loop re-asks three times an hour


@dataclass(frozen=True)
class LoopTimings:
    turn_timeout: float = 1800.0
    rate_limit_backoff: float = 60.0  # when the error names no reset time; doubles per retry
    rate_limit_max: float = 3600.0
    login_retry: float = 600.0  # needs_login: retry on `logged_in`, or after this long anyway
    budget_retry_min: float = 30.0  # budget_exhausted without a word from the hive: retry no sooner


class _Said(NamedTuple):
    """The last `harness_state` the loop sent: said again to a daemon that restarted."""

    activity: rq.HarnessActivity
    detail: str | None
    needs_login: bool | None


class TurnLoop:
    def __init__(self, socket: Path, driver: ClaudeDriver, brain: BrainConfig, state_dir: Path,
                 timings: LoopTimings = LoopTimings()) -> None:
        self.socket = socket
        self.driver = driver
        self.brain = brain
        self.timings = timings
        # recv and ack; holds presence and the lease. A new daemon learns again what the loop is doing.
        self.mail = HiveLink(socket, role="harness", on_reconnect=self._restate)
        self.side = HiveLink(socket)  # transcript and state, so a blocking recv never delays them
        self.reporter = Reporter(self.side)
        self.session = SessionFile(state_dir)
        self.ledger = TurnLedger(driver.files.turn_ledger)
        # The hyperhive tools, served for the harness's lifetime rather than started by every turn's CLI.
        self.tools = ToolHost(socket, driver.files.turn_ledger, brain.ask_tools, brain.ask_timeout_seconds) \
            if brain.hyperhive_mcp_command else None
        self.session_id = self.session.load()
        self.model = brain.model
        self._turn_lock = asyncio.Lock()
        self._interrupted = False
        self._compact_requested = False
        self._logged_in = asyncio.Event()
        self._budget_restored = asyncio.Event()
        self._to_ack: list[int] = []
        self._main: asyncio.Task[None] | None = None
        self._last_state: _Said | None = None
        self._context_tokens = 0  # the last turn's prompt size: how full the session is
        self.control_attempts = 0  # connections the control stream opened (or tried to)

    # --- the loop ---------------------------------------------------------------------------------
    async def stop_after_turn(self) -> None:
        """Let the running turn end (and be acked), then stop; mail not yet taken stays in the inbox."""
        async with self._turn_lock:
            await self._ack_done()
            if self._main is not None:
                self._main.cancel()

    async def run(self) -> None:
        self._main = asyncio.current_task()
        self.reporter.start()
        await self.mail.call("whoami")  # connects and says hello
        self.model = (self.mail.hello.active_model if self.mail.hello else None) or self.brain.model
        controls = asyncio.create_task(self._follow_controls(), name="controls")
        try:
            await self._state("idle")
            if self.tools is not None:
                self.tools.start_soon()
            while True:
                await self._ack_done()
                got = await self.mail.verb(rq.Recv, wait_seconds=RECV_WAIT, max=1)
                for message in got.messages:
                    await self._handle(message, got.pending)
                    await self._compact_if_full()
                    await self._state("idle")
        finally:
            # Every closer runs even if one before it fails or a second cancel lands mid-way: a skipped one
            # would leave the tool server listening and its hive connections open.
            async with contextlib.AsyncExitStack() as closing:
                closing.push_async_callback(self.side.close)
                closing.push_async_callback(self.mail.close)
                if self.tools is not None:
                    closing.push_async_callback(self.tools.close)
                closing.push_async_callback(self.driver.close)
                closing.push_async_callback(self.reporter.close)
                controls.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await controls

    async def _handle(self, message: Message, pending: int) -> None:
        failures = 0
        compacted = False
        login_tries = 0
        rate_wait = self.timings.rate_limit_backoff
        while True:
            if self._compact_requested:
                async with self._turn_lock:
                    await self._compact("the operator asked for it")
            self._budget_restored.clear()  # a restore from here on is not missed while the turn runs
            outcome = await self._turn(message, pending)
            kind = outcome.kind
            if kind in ("ok", "interrupted"):
                await self._finish(message.id)
                if login_tries:
                    await self._state("thinking", needs_login=False)
                return
            if kind == "rate_limited":
                wait = outcome.retry_after if outcome.retry_after is not None else rate_wait
                rate_wait = min(rate_wait * 2, self.timings.rate_limit_max)
                until = time.strftime("%H:%M:%S", time.localtime(time.time() + wait))
                await self._state("rate_limited", detail=f"rate limited; retrying at {until}")
                await asyncio.sleep(wait)
            elif kind == "auth_failed":
                login_tries += 1
                if login_tries > 1:
                    await self._wait_for_login()
            elif kind == "budget_exhausted":
                await self._wait_for_budget(outcome)
            elif kind == "prompt_too_long" and not compacted:
                compacted = True
                async with self._turn_lock:
                    await self._compact("the prompt was too long")
            else:
                failures += 1
                if failures >= 2:
                    await self._park(message, outcome)
                    return

    async def _turn(self, message: Message, pending: int) -> TurnOutcome:
        async with self._turn_lock:
            self._interrupted = False
            started = time.time()
            self.reporter.emit("turn_start", {"id": message.id, "from": message.sender,
                                              "body": message.body, "unread": pending, "model": self.model})
            await self._state("thinking", detail=f"on #{message.id} from {message.sender}")
            outcome = await self._run_turn(wake_prompt(message, pending))
            if self._interrupted and outcome.kind != "ok":
                outcome = _with_kind(outcome, "interrupted", "interrupted by the operator")
            await self._settle_pulled(outcome.kind in ("ok", "interrupted"))
            if outcome.session_id:
                self._remember_session(outcome.session_id)
            self._context_tokens = outcome.stats.context_tokens
            ok = outcome.kind == "ok"
            self.reporter.emit("turn_end", {"id": message.id, "ok": ok, "kind": outcome.kind,
                                            "note": outcome.note})
            self.reporter.emit("turn_stats", outcome.stats.model_dump() | {
                "message_id": message.id, "wake_from": message.sender, "started_at": started})
            return outcome

    async def _settle_pulled(self, kept: bool) -> None:
        """Mail the model pulled with `recv` this turn is acked with the turn's message if the turn is kept
        (it is in the session); otherwise the tools' connection is closed, which puts it back in the inbox."""
        if kept:
            self._to_ack.extend(self.ledger.pulled())
        elif self.tools is not None:
            await self.tools.release()
        self.ledger.clear()

    async def _use_hosted_tools(self) -> None:
        """Point the next CLI at the resident tool server; if it cannot start, turns start their own."""
        if self.tools is None or self.driver.files.hosted is not None:
            return
        try:
            self.driver.files.hosted = (await self.tools.endpoint()).mcp_entry()
        except Exception as exc:  # any failure: the per-turn stdio server still works
            log.exception("the resident hyperhive tool server did not start")
            self.reporter.emit("note", {"text": f"hyperhive tools not hosted ({exc}); each turn starts them"})
            self.tools = None

    async def _run_turn(self, prompt: str) -> TurnOutcome:
        self.ledger.clear()  # a ledger left by a harness that died: its messages were never acked, so came back
        await self._use_hosted_tools()

        async def on_event(line: StreamLine) -> None:
            session = session_of(line)
            if line.get("type") == "system" and line.get("subtype") == "init" and session:
                self._remember_session(session)  # a crash mid-turn still resumes it
            self.reporter.emit("stream", line)

        async def on_stderr(text: str) -> None:
            self.reporter.emit("note", {"text": text})

        # The driver's own timeout ends the turn with SIGINT and keeps its stats (kind "timeout").
        return await self.driver.run_turn(prompt, session_id=self.session_id, model=self.model,
                                          on_event=on_event, on_stderr=on_stderr, timeout=self.timings.turn_timeout)

    # --- outcomes ---------------------------------------------------------------------------------
    async def _finish(self, message_id: int) -> None:
        self._to_ack.append(message_id)
        await self._ack_done()

    async def _ack_done(self) -> None:
        """Acks survive a daemon restart: they are retried (acking is idempotent) before the next recv."""
        if self._to_ack:
            await self.mail.call("ack", ids=self._to_ack)
            self._to_ack = []
        if self.tools is not None:
            await self.tools.release()  # what the tools still hold (a recv after the turn's end) goes back

    async def _park(self, message: Message, outcome: TurnOutcome) -> None:
        self.reporter.emit("turn_end", {"id": message.id, "ok": False, "kind": outcome.kind, "parked": True,
                                        "from": message.sender, "note": f"parked after two failed turns: "
                                                                        f"{outcome.note}"})
        await self.reporter.flush()
        await self._finish(message.id)

    async def _wait_for_login(self) -> None:
        """Until the credentials in the CLI's config dir change (`hivectl login NAME` wrote them), or the
        operator says `logged_in`, or the retry timer runs out."""
        name = self.mail.hello.name if self.mail.hello else "NAME"
        config_dir = Path(self.driver.env["CLAUDE_CONFIG_DIR"])
        config_dir.mkdir(parents=True, exist_ok=True)
        watch = FileWatch(config_dir, CREDENTIAL_FILES, IN_CLOSE_WRITE | IN_MOVED_TO)
        try:
            await self._state("needs_login", needs_login=True,
                              detail=f"the Claude CLI is not logged in: run `hivectl login {name}`")
            self._logged_in.clear()
            waits = {asyncio.ensure_future(self._logged_in.wait()), asyncio.ensure_future(watch.changed.wait())}
            _, pending = await asyncio.wait(waits, timeout=self.timings.login_retry,
                                               return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
            if watch.changed.is_set():
                self.reporter.emit("note", {"text": "the CLI's credentials changed: trying again"})
        finally:
            watch.close()

    async def _wait_for_budget(self, outcome: TurnOutcome) -> None:
        """The message stays in hand; the hive says when the budget is back (window reset, raised limit)."""
        await self._state("budget_exhausted", detail=outcome.note)
        wait = max(outcome.retry_after or 3600.0, self.timings.budget_retry_min)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._budget_restored.wait(), wait)

    async def _compact(self, why: str) -> None:
        self._compact_requested = False
        if self.session_id is None:
            return
        self.reporter.emit("note", {"text": f"compacting the session: {why}"})
        await self._state("thinking", detail="compacting the session")
        await self._use_hosted_tools()
        outcome = await self.driver.compact(self.session_id)
        if outcome.session_id:
            self._remember_session(outcome.session_id)
        self.reporter.emit("note", {"text": f"compact: {outcome.kind} {outcome.note}".strip()})

    async def _compact_if_full(self) -> None:
        """Proactive compaction: past the watermark, a notes turn, then /compact (the reactive path, on a
        prompt too long, stays in _handle)."""
        used, self._context_tokens = self._context_tokens, 0
        percent = 100 * used // self.brain.context_window
        if self.brain.compact_percent >= 100 or percent < self.brain.compact_percent or self.session_id is None:
            return
        async with self._turn_lock:
            self.reporter.emit("note", {"text": f"the session holds {used} tokens, {percent}% of the context: "
                                                "a notes turn, then compacting"})
            await self._state("thinking", detail="writing notes before compacting")
            started = time.time()
            outcome = await self._run_turn(checkpoint_prompt(percent))
            await self._settle_pulled(outcome.kind == "ok")
            if outcome.session_id:
                self._remember_session(outcome.session_id)
            self.reporter.emit("turn_stats", outcome.stats.model_dump() | {
                "message_id": None, "wake_from": "compaction", "started_at": started})
            await self._ack_done()
            await self._compact(f"the session passed {self.brain.compact_percent}% of the context")

    def _remember_session(self, session_id: str) -> None:
        if session_id != self.session_id:
            self.session_id = session_id
            self.session.save(session_id)

    async def _restate(self) -> None:
        if self._last_state is not None:
            await self._state(*self._last_state)

    async def _state(self, activity: rq.HarnessActivity, detail: str | None = None,
                     needs_login: bool | None = None) -> None:
        self._last_state = _Said(activity, detail, needs_login)
        try:
            await self.side.verb(rq.HarnessState, activity=activity, model=self.model, session_id=self.session_id,
                                 detail=detail[:500] if detail is not None else None, needs_login=needs_login)
        except HiveError as exc:
            log.warning("harness_state refused: %s", exc.message)

    # --- operator controls ------------------------------------------------------------------------
    async def _follow_controls(self) -> None:
        """While the daemon is down, wait for its socket to be made again (not a ten-a-second retry)."""
        reconnect = Reconnect(self.socket)
        while True:
            self.control_attempts += 1
            try:
                async for line in stream(self.socket, "control_stream"):
                    reconnect.done()
                    if "control" in line:  # the first line is the bare `ok` that opens the stream
                        await self._control(Control.model_validate(line))
            except Unreachable:
                await reconnect.pause()

    async def _control(self, control: Control) -> None:
        kind = control.control
        log.info("control: %s", kind)
        if kind == "interrupt":
            if self.driver.running():
                self._interrupted = True
                await self.driver.interrupt()
        elif kind == "set_model":
            self.model = control.model or self.model
            await self._state("thinking" if self.driver.running() else "idle")
        elif kind == "new_session":
            self.session_id = None
            self.session.save(None)
            self.reporter.emit("note", {"text": "the next turn starts a new session"})
        elif kind == "compact":
            self._compact_requested = True
            if not self._turn_lock.locked():
                async with self._turn_lock:
                    await self._compact("the operator asked for it")
                await self._state("idle")
        elif kind == "logged_in":
            self._logged_in.set()
        elif kind == "budget_restored":
            self._budget_restored.set()


def _with_kind(outcome: TurnOutcome, kind: OutcomeKind, note: str) -> TurnOutcome:
    return replace(outcome, kind=kind, note=note)
