"""Reading one turn's stream-json output: what it cost, what it called, and how it ended.

`TurnRecord` is fed every parsed line; `TurnRecord.outcome` then classifies the turn from the `result`
line, the exit status and the stderr tail. Pure, so it is tested without the CLI; the line shapes are
those of Claude Code 2.1.331, measured in tests/agent/test_claude_driver.py.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from hyperhive.protocol.agent_requests import Count, TurnUsage

from .stream_json import AssistantLine, RateLimitLine, ResultLine, StreamLine, SystemLine, session_of

OutcomeKind = Literal["ok", "error", "interrupted", "rate_limited", "auth_failed", "prompt_too_long", "crashed",
                      "timeout", "budget_exhausted"]
Stop = Literal["interrupt", "timeout", "cancel"]

NOTE_MAX = 500
# What one API call's prompt is made of; their sum is the context the session fills.
PROMPT_USAGE = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
# The hive's gateway refuses a call of an agent whose budget is spent with this phrase and the reset time.
BUDGET_PHRASE = "hive budget exhausted"
BUDGET_RESET = re.compile(r"resets at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")
MISSING_SESSION = "No conversation found with session ID"
# Lowercased pieces of the sentences the CLI prints for a missing or refused credential.
AUTH_PHRASES = ("invalid api key", "/login", "not logged in", "authentication_error", "invalid x-api-key",
                "oauth token has expired", "oauth token has been revoked")


class TurnStats(TurnUsage):
    """The turn's `TurnUsage` (what the `turn_stats` report carries), and how full the session is."""

    context_tokens: Count = 0  # the last API call's prompt (input + cache tokens)


@dataclass(frozen=True)
class TurnOutcome:
    kind: OutcomeKind
    session_id: str | None  # the session to resume next turn
    note: str  # one human sentence: the result text's head, or what went wrong
    retry_after: float | None  # seconds to wait, for rate_limited, when the CLI's output says
    stats: TurnStats

    @classmethod
    def failed(cls, kind: OutcomeKind, note: str, session_id: str | None) -> TurnOutcome:
        """An outcome for a turn that produced nothing to read (the caller's own timeout, for one)."""
        return cls(kind, session_id, note, None, TurnStats())


class TurnRecord:
    """Everything one turn's stream says that the outcome needs."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.session_id: str | None = None
        self.result: ResultLine | None = None
        self.tools: dict[str, str] = {}  # tool_use id -> name; a block can repeat across lines
        self.reset_at: float | None = None  # epoch seconds a subscription limit lifts
        self.retry_delay: float | None = None  # the CLI's last back-off on a 429 (it follows retry-after)
        self.api_error: AssistantLine = {}  # the last synthetic assistant message (its error fields)
        self.context_tokens = 0

    def feed(self, line: StreamLine) -> None:
        """One parsed line; its `type` says which shape it has (stream_json.py)."""
        kind = line.get("type")
        self.session_id = session_of(line) or self.session_id
        if kind == "system":
            self._system(cast(SystemLine, line))
        elif kind == "assistant":
            self._assistant(cast(AssistantLine, line))
        elif kind == "rate_limit_event":
            self._rate_limit(cast(RateLimitLine, line).get("rate_limit_info"))
        elif kind == "result":
            self.result = cast(ResultLine, line)

    def _system(self, line: SystemLine) -> None:
        if line.get("subtype") == "init" and line.get("model"):
            self.model = str(line["model"])
        elif line.get("subtype") == "api_retry" and line.get("error_status") == 429:
            self.retry_delay = _number(line.get("retry_delay_ms")) / 1000

    def _assistant(self, line: AssistantLine) -> None:
        message = line.get("message") or {}
        usage = message.get("usage")
        if isinstance(usage, dict) and not line.get("is_api_error_message"):
            self.context_tokens = int(sum(_number(usage.get(k)) for k in PROMPT_USAGE))
        for block in message.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self.tools[str(block.get("id"))] = str(block.get("name"))
        if line.get("is_api_error_message"):
            self.api_error = line
            self._rate_limit((line.get("api_error_params") or {}).get("rate_limit_info"))

    def _rate_limit(self, info: object) -> None:
        if isinstance(info, dict) and info.get("status") == "rejected" and info.get("resetsAt"):
            self.reset_at = _number(info["resetsAt"])

    @property
    def missing_session(self) -> bool:
        errors = (self.result or {}).get("errors") or []
        return any(MISSING_SESSION in str(e) for e in errors)

    def stats(self, wall_ms: int) -> TurnStats:
        r: ResultLine = self.result or {}
        usage = r.get("usage") or {}
        # Not validated here: the hive checks the bounds when it stores the report, and refusing one there
        # costs a transcript line, never the turn.
        return TurnStats.model_construct(
            model=self.model, duration_ms=int(_number(r.get("duration_ms"))),
            input_tokens=int(_number(usage.get("input_tokens"))),
            output_tokens=int(_number(usage.get("output_tokens"))),
            cache_read_tokens=int(_number(usage.get("cache_read_input_tokens"))),
            cache_creation_tokens=int(_number(usage.get("cache_creation_input_tokens"))),
            cost_usd=_number(r.get("total_cost_usd")), num_turns=int(_number(r.get("num_turns"))),
            tool_calls=len(self.tools), tool_breakdown=dict(Counter(self.tools.values())),
            result_kind=str(r.get("subtype") or ""), terminal_reason=str(r.get("terminal_reason") or ""),
            permission_denials=[str(d.get("tool_name")) for d in r.get("permission_denials") or []
                                if isinstance(d, dict)],
            wall_ms=wall_ms, context_tokens=self.context_tokens)

    def outcome(self, returncode: int, stderr_tail: list[str], stopped: Stop | None, session_id: str | None,
                wall_ms: int) -> TurnOutcome:
        kind, note = self._classify(returncode, stderr_tail, stopped)
        retry_after = (self._retry_after() if kind == "rate_limited"
                       else _budget_reset(note) if kind == "budget_exhausted" else None)
        return TurnOutcome(kind, self.session_id or session_id, _clip(note), retry_after, self.stats(wall_ms))

    def _classify(self, returncode: int, stderr_tail: list[str], stopped: Stop | None) -> tuple[OutcomeKind, str]:
        r = self.result
        if r is not None and not r.get("is_error") and r.get("subtype") == "success":
            return "ok", str(r.get("result") or "")  # a stop that came too late to matter
        if stopped == "timeout":
            return "timeout", "the turn ran past its time limit and was stopped"
        if stopped is not None or str((r or {}).get("terminal_reason") or "").startswith("aborted"):
            return "interrupted", "interrupted"
        if r is None:
            return self._no_result(returncode, stderr_tail)
        text = str(r.get("result") or "; ".join(str(e) for e in r.get("errors") or []) or r.get("subtype"))
        return self._error_kind(r, text, " ".join(stderr_tail)), text

    def _error_kind(self, r: ResultLine, text: str, stderr: str) -> OutcomeKind:
        status = r.get("api_error_status") or self.api_error.get("api_error_status")
        error_type = str(r.get("api_error_type") or self.api_error.get("api_error_type") or "")
        lowered = f"{text} {stderr}".lower()
        if BUDGET_PHRASE in lowered:
            return "budget_exhausted"
        if status == 429 or error_type == "rate_limit_error" or self.api_error.get("error") == "rate_limit":
            return "rate_limited"
        if status == 401 or any(p in lowered for p in AUTH_PHRASES):
            return "auth_failed"
        if r.get("terminal_reason") == "prompt_too_long" or "prompt is too long" in lowered:
            return "prompt_too_long"
        return "error"

    def _no_result(self, returncode: int, stderr_tail: list[str]) -> tuple[OutcomeKind, str]:
        how = f"was killed by {_signal_name(-returncode)}" if returncode < 0 else f"exited with code {returncode}"
        tail = " | ".join(stderr_tail[-5:])
        lowered = tail.lower()
        if any(p in lowered for p in AUTH_PHRASES):
            return "auth_failed", tail
        return "crashed", f"the CLI {how} without a result" + (f": {tail}" if tail else "")

    def _retry_after(self) -> float | None:
        if self.reset_at is not None:
            return max(0.0, self.reset_at - time.time())
        return self.retry_delay


def _budget_reset(note: str) -> float | None:
    """Seconds until the reset time the gateway's refusal names."""
    found = BUDGET_RESET.search(note)
    if found is None:
        return None
    reset = datetime.strptime(found[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return max(0.0, reset - time.time())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= NOTE_MAX else text[: NOTE_MAX - 1] + "…"
