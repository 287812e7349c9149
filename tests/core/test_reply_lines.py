"""Replies are models now, and the wire did not move: each line's keys come in the order hyperhive v1's
clients have always read them (the order of the dicts the verbs answered before they were models)."""

from __future__ import annotations

from typing import Any

from hyperhive.core.hive import Hive
from tests.support.agents import add_agent, host

ENVELOPE = ("version", "ok", "req_id")
QUESTION = ["id", "asker", "target", "question", "options", "multi", "asked_at", "expires_at", "status", "answer",
            "answered_by", "answered_at"]
REMINDER = ["id", "agent", "body", "due_at", "created_at"]
SCHEDULE = ["id", "targets", "body", "description", "first_fire_at", "next_fire_at", "interval_seconds", "status",
            "created_by", "approval_id", "last_fired_at", "fire_count"]
APPROVAL = ["id", "kind", "agent", "requested_by", "commit_ref", "fetched_sha", "description", "status",
            "requested_at", "resolved_at", "note", "done", "diff", "details"]
TOTAL = ["key", "calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "tokens",
         "cost_usd"]


def keys(line: dict[str, Any]) -> list[str]:
    return [key for key in line if key not in ENVELOPE]


async def test_agent_replies_keep_their_keys_in_order(hive: Hive) -> None:
    alice = await add_agent(hive, "alice")
    try:
        assert keys(await alice.request("whoami")) == ["name", "kind", "manager", "active_model", "paused"]
        assert keys(await alice.request("send", to="operator", body="hi")) == ["id", "ids", "recipients"]
        assert keys(await alice.request("send_batch", messages=[{"to": "operator", "body": "a"}])) == ["results"]
        assert keys(await alice.request("inbox_status")) == ["pending", "unread"]
        assert keys(await alice.request("recv")) == ["messages", "pending"]
        asked = await alice.request("ask", question="ok?")
        assert keys(asked) == ["question"] and keys(asked["question"]) == QUESTION
        reminded = await alice.request("remind", message="later", delay_seconds=600)
        assert keys(reminded["reminder"]) == REMINDER
        scheduled = await alice.request("request_schedule_prompt", targets=["alice"], body="tick",
                                        first_fire_at="2099-01-01T00:00:00Z")
        assert keys(scheduled) == ["schedule", "approval"]
        assert keys(scheduled["schedule"]) == SCHEDULE and keys(scheduled["approval"]) == APPROVAL
        ends = (await alice.request("get_loose_ends"))["loose_ends"]
        assert keys(ends) == ["questions", "reminders", "approvals", "schedules"]
        cancelled = await alice.request("cancel_loose_end", kind="reminder", id=reminded["reminder"]["id"])
        assert keys(cancelled) == ["reminder"]  # only the cancelled item's kind, the others absent
    finally:
        await alice.close()


async def test_host_replies_keep_their_keys_in_order(hive: Hive) -> None:
    assert keys(await host(hive, "ping")) == ["pong", "daemon_version"]
    peer = await host(hive, "register_peer", name="bob")
    assert keys(peer) == ["agent_statuses", "socket_dir", "bind_mount"]
    assert keys(await host(hive, "inbox")) == ["messages", "unread"]
    assert keys(await host(hive, "urls")) == ["urls"]
    assert keys(await host(hive, "logs", name="bob")) == ["lines", "path"]
    usage = await host(hive, "usage")
    assert keys(usage) == ["usage", "total", "by", "since", "prices"]
    assert keys(usage["total"]) == TOTAL and keys(usage["prices"]) == ["source", "retrieved"]
    assert keys(await host(hive, "ack", ids=[1])) == ["acked"]
    assert keys(await host(hive, "unregister_peer", name="bob")) == ["agents"]
