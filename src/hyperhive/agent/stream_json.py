"""The lines of the Claude CLI's `--output-format stream-json` that the harness reads, as TypedDicts.

Shapes as Claude Code 2.1.331 prints them (measured in tests/agent/test_claude_driver.py and
test_resident.py; see docs/claude-driver.md). Only the keys the harness reads are named: a line is JSON
from another program, so it arrives as `StreamLine` (an object, nothing promised), is taken as its
`type`'s shape by whoever reads it, and every value is still checked where it is used (`turn_stats._number`, `str(…)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

StreamLine = Mapping[str, object]
"""One line as parsed: a JSON object whose keys the CLI decides."""


class Usage(TypedDict, total=False):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


class ContentBlock(TypedDict, total=False):
    type: str  # text, tool_use, tool_result, thinking
    id: str
    name: str


class ApiMessage(TypedDict, total=False):
    content: list[ContentBlock]
    usage: Usage


class RateLimitInfo(TypedDict, total=False):
    status: str  # allowed, allowed_warning, rejected
    resetsAt: float  # epoch seconds


class ApiErrorParams(TypedDict, total=False):
    rate_limit_info: RateLimitInfo


class SystemLine(TypedDict, total=False):
    """`system/init` at the start of every turn; `system/api_retry` on each of the CLI's own retries."""

    type: Literal["system"]
    subtype: str
    session_id: str
    model: str
    error_status: int
    retry_delay_ms: float


class AssistantLine(TypedDict, total=False):
    """A model message, or the CLI's synthetic one for a failed API call (`is_api_error_message`)."""

    type: Literal["assistant"]
    message: ApiMessage
    is_api_error_message: bool
    api_error_status: int
    api_error_type: str
    api_error_params: ApiErrorParams
    error: str  # rate_limit, authentication_failed, …


class RateLimitLine(TypedDict, total=False):
    type: Literal["rate_limit_event"]
    rate_limit_info: RateLimitInfo


class PermissionDenial(TypedDict, total=False):
    tool_name: str


class ResultLine(TypedDict, total=False):
    """The last line of a turn."""

    type: Literal["result"]
    subtype: str  # success, error_during_execution, error_max_turns, …
    is_error: bool
    result: str
    errors: list[str]
    session_id: str
    duration_ms: int
    num_turns: int
    total_cost_usd: float
    usage: Usage
    terminal_reason: str  # completed, api_error, aborted_streaming, aborted_tools, prompt_too_long, …
    permission_denials: list[PermissionDenial]
    api_error_status: int
    api_error_type: str


def session_of(line: StreamLine) -> str | None:
    """The session a line names (every line of a turn carries it)."""
    session = line.get("session_id")
    return session if isinstance(session, str) and session else None


# --- what the resident CLI reads on stdin (`--input-format stream-json`) ---------------------------------
class UserContent(TypedDict):
    role: Literal["user"]
    content: str


class UserInput(TypedDict):
    """One turn's prompt."""

    type: Literal["user"]
    message: UserContent


class ControlSubtype(TypedDict):
    subtype: Literal["interrupt"]


class ControlRequest(TypedDict):
    """Ends the running turn (the CLI answers with a `control_response` and an error result)."""

    type: Literal["control_request"]
    request_id: str
    request: ControlSubtype


InputLine = UserInput | ControlRequest
