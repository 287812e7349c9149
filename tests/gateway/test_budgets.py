"""Budgets at the gateway (issue 18's "Done when"): a `daily_tokens = 1000` agent whose turns report 750
tokens makes no API call once the budget is spent; its row says `budget_exhausted`, the operator's inbox
has the event, the message stays in hand, and the day's end (an injected clock) lets it through again.
Real CLI, real harness (process runtime), the scripted API behind the gateway."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from tests.support import api_replies as reply
from tests.support.clock import ManualClock
from tests.support.hive import settings_for
from tests.support.scripted_api import ScriptedApi

pytestmark = pytest.mark.claude
HIVE_KEY = "sk-ant-hive-key-never-in-a-sandbox"
AGENT = """name = "{name}"
role = "agent"
model = "claude-sonnet-4-5"
network = "{network}"
[budget]
daily_tokens = 1000
"""


async def until(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Wait for what another process does (the harness, the CLI); the hive's own state is read, not slept on."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


def api_env(api: ScriptedApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", HIVE_KEY)
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")


async def unacked(hive: Hive, name: str) -> int:
    return await hive.store.count_unacked(name)


async def operator_events(hive: Hive, kind: str) -> list[dict[str, object]]:
    inbox = await hive.store.inbox_messages(OPERATOR, 200, False)
    bodies = [json.loads(m.body) for m in inbox if m.sender == "system"]
    return [b for b in bodies if b.get("event") == kind]


async def test_a_spent_daily_token_budget_stops_calls_keeps_the_message_and_resets_at_midnight(
    short_tmp: Path, claude_bin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(datetime(2026, 11, 25, 22, 0, tzinfo=UTC).timestamp())
    with ScriptedApi(default=reply.text("done", input_tokens=700, output_tokens=50)) as api:
        api_env(api, monkeypatch)
        async with Hive(settings_for(short_tmp, claude_bin=claude_bin), clock=clock) as hive:
            await hive.deployments.spawn_now("alice", "", AGENT.format(name="alice", network="private"))
            try:
                await until(lambda: (hive.registry.activity("alice") or ("",))[0] == "idle")
                for n, body in enumerate(["one", "two"], start=1):
                    await hive.broker.deliver(OPERATOR, ["alice"], body)
                    await until(lambda n=n: len(api.message_requests) >= n)
                    while await unacked(hive, "alice"):
                        await asyncio.sleep(0.02)
                calls = len(api.message_requests)
                assert all(r.headers.get("x-api-key") == HIVE_KEY for r in api.message_requests)
                await until(lambda: hive.gateway.spend.exhausted("alice") is not None)

                await hive.broker.deliver(OPERATOR, ["alice"], "three")
                await until(lambda: (hive.registry.activity("alice") or ("",))[0] == "budget_exhausted")
                assert len(api.message_requests) == calls  # refused at the gateway: no API call
                assert await unacked(hive, "alice") == 1  # "three" is still in hand
                row = await hive.status_row("alice")
                assert row is not None and row.budget_exhausted
                (event,) = await operator_events(hive, "budget_exhausted")
                assert (event["agent"], event["budget"], event["scope"]) == ("alice", "daily_tokens", "agent")
                assert (event["limit"], event["spent"], event["resets_at"]) == (1000, 1500, "2026-11-26T00:00:00Z")

                clock.set(datetime(2026, 11, 26, 0, 0, tzinfo=UTC).timestamp())  # midnight UTC: a new day
                await until(lambda: len(api.message_requests) == calls + 1)
                while await unacked(hive, "alice"):
                    await asyncio.sleep(0.02)
                assert "three" in api.message_requests[-1].last_user_text  # the message kept in hand, answered
                row = await hive.status_row("alice")
                assert row is not None and not row.budget_exhausted
            finally:
                await hive.supervisor.stop_agent("alice")
