"""Records that cross the wire: status rows, messages, events. Field names are hyperhive v1's."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

AgentKind = Literal["managed", "peer"]


@functools.lru_cache(maxsize=1024)  # a message's sent, delivered and acked times are often one instant
def rfc3339(ts: float | None) -> str | None:
    """Unix seconds → RFC 3339 UTC with milliseconds (`2026-11-24T18:31:02.123Z`), None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use


class StatusRow(WireModel):
    """One agent as `agent_status` reports it. The flags are independent, not a state machine."""

    name: str
    kind: AgentKind
    state: str  # lifecycle state (managed) or presence (peer): running, stopped, failed, offline, …
    running: bool
    failed: bool
    paused: bool
    needs_login: bool
    needs_update: bool
    deployed_sha: str | None  # 12 hex chars
    active_model: str | None
    status_text: str | None
    status_set_at: str | None  # RFC 3339; null exactly when status_text is
    pending_reminders: int
    pending_approvals: int
    unread: int
    last_seen: str | None
    parent: str | None
    url: str | None
    description: str = ""
    activity: str | None = None  # what the harness says it is doing: idle, thinking, rate_limited, …
    activity_detail: str | None = None
    isolated: bool = True  # False for agents on the `process` runtime: no sandbox
    context_tokens: int | None = None  # the last turn's prompt: what the session's context holds
    context_window: int | None = None  # the model's context window, in tokens
    cost_usd_24h: float | None = None  # the agent's turns in the last 24 hours; null before its first turn
    budget_exhausted: bool = False  # the gateway refuses its calls until a budget window resets
    turn_cost_usd: float | None = None  # what the running turn's API calls cost so far (None between turns)
    node: str | None = None  # the hive node whose supervisor runs it (one host: that host's node name)
    node_offline: bool = False  # its node's heartbeat lapsed (state is then node_offline); its mail waits


TimeT = TypeVar("TimeT")


class Letter(WireModel, Generic[TimeT]):
    """A message, whichever way its times are written: RFC 3339 text on the wire (`Message`), Unix seconds in
    the store (`store.MessageRecord`)."""

    id: int
    sender: str
    recipient: str
    body: str
    sent_at: TimeT
    delivered_at: TimeT | None = None
    acked_at: TimeT | None = None
    in_reply_to: int | None = None
    broadcast: bool = False
    dropped_at: TimeT | None = None  # its recipient was purged before reading it: never delivered


class Message(Letter[str]):
    """A message as the wire carries it."""


class Event(WireModel):
    seq: int
    at: str
    agent: str | None
    kind: str
    payload: dict[str, object]


class Urls(WireModel):
    domain: str
    home: str | None
    services: dict[str, str] = {}
