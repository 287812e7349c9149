"""`tool_use` approvals from the operator's side (issue 21): `hivectl approvals / show-approval / approve
--always / deny --note`, and "allow from now on" proposing the rule as an ordinary config change."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hyperhive.client import AsyncSocketClient
from hyperhive.core import tool_prompts
from hyperhive.core.hive import Hive
from hyperhive.store import ApprovalRecord, EventRecord
from tests.support.agents import add_agent
from tests.support.hive import settings_for

from .test_config_approvals import commit, git, new_config_repo
from .test_hivectl import hivectl

TOUCH = {"command": "touch x", "description": "make x"}


async def a_prompt(hive: Hive, agent: str, tool_use_id: str = "toolu_1") -> ApprovalRecord:
    """A pending card as the permission prompt files it (the real CLI's path: tests/agent/test_permission_prompts)."""
    return await hive.approvals.request("tool_use", agent, agent, description="Bash: touch x",
                                        payload={"tool": "Bash", "input": TOUCH, "tool_use_id": tool_use_id,
                                                 "rule": "Bash", "message_id": 7})


async def test_allow_from_now_on_proposes_the_rule_and_runs_this_call(hive: Hive) -> None:
    manager, repo = await new_config_repo(hive, "carol")
    text = (repo / "agent.toml").read_text()
    commit(repo, (text, text + '\n[tools]\nask = ["Bash", "WebFetch"]\n'))
    card = await a_prompt(hive, "carol")
    runtime = hive.settings.runtime_dir
    shown = await asyncio.to_thread(hivectl, runtime, "show-approval", str(card.id))
    assert "tool_use for carol" in shown.stdout and "rule: Bash" in shown.stdout
    assert 'input: {"command": "touch x", "description": "make x"}' in shown.stdout  # the exact call, as JSON
    done = await asyncio.to_thread(hivectl, runtime, "approve", str(card.id), "--always")
    assert done.returncode == 0, done.stderr
    assert f"approved #{card.id}" in done.stdout and "allow rule proposed as approval" in done.stdout
    approved = await hive.store.get_approval(card.id)
    assert approved is not None and approved.status == "approved"
    change = (await hive.store.list_approvals(kind="apply_commit", agent="carol"))[0]
    assert change.status == "pending" and change.requested_by == "operator"
    assert f"approval #{card.id}" in change.description
    head = git(repo, "rev-parse", "HEAD")
    assert change.fetched_sha == head
    tools = tomllib.loads(git(repo, "show", "HEAD:agent.toml"))["tools"]
    assert tools["ask"] == ["WebFetch"] and "Bash" in tools["allow"]
    again = await asyncio.to_thread(hivectl, runtime, "approve", str(card.id), "--always")
    assert again.returncode != 0 and "already approved" in again.stderr
    await manager.close()


async def test_deny_with_a_note_and_the_list(hive: Hive) -> None:
    card = await a_prompt(hive, "carol")
    runtime = hive.settings.runtime_dir
    listed = await asyncio.to_thread(hivectl, runtime, "approvals", "--status", "pending")
    assert "tool_use" in listed.stdout and "Bash: touch x" in listed.stdout
    denied = await asyncio.to_thread(hivectl, runtime, "deny", str(card.id), "--note", "use a temp dir")
    assert denied.returncode == 0, denied.stderr
    stored = await hive.store.get_approval(card.id)
    assert stored is not None and (stored.status, stored.note) == ("denied", "use a temp dir")
    assert stored.resolved_at is not None and stored.payload["input"] == TOUCH  # the audit: who, when, what
    no_repo = await a_prompt(hive, "dave", "toolu_2")
    refused = await asyncio.to_thread(hivectl, runtime, "approve", str(no_repo.id), "--always")
    assert refused.returncode != 0 and "no config repo" in refused.stderr




async def test_the_wire_one_card_per_call_and_a_harness_hangup_cancels(hive: Hive) -> None:
    """`tool_prompt` on the agent's socket: no ask rule → refused unasked; asked twice under one tool_use_id →
    one card; the agent's harness connection ending → the card is cancelled and the prompt refused."""
    harness = await add_agent(hive, "alice")
    await harness.request("hello", role="harness")
    socket = hive.settings.agent_socket_dir("alice") / "mcp.sock"
    unasked = await prompt(socket, "WebFetch", {"url": "http://x/"}, "toolu_0")
    assert unasked["behavior"] == "deny" and "nobody was asked" in unasked["message"]
    first = asyncio.create_task(prompt(socket, "Bash", TOUCH, "toolu_1"))
    cards = await pending_tool_use(hive, 1)
    again = asyncio.create_task(prompt(socket, "Bash", TOUCH, "toolu_1"))  # a prompt that reconnected
    assert [a.id for a in await pending_tool_use(hive, 1)] == [cards[0].id]
    await harness.close()
    answers = await asyncio.wait_for(asyncio.gather(first, again), 30)
    assert all(a["behavior"] == "deny" and "harness stopped" in a["message"] for a in answers)
    stored = await hive.store.get_approval(cards[0].id)
    assert stored is not None and stored.status == "cancelled"
    assert len(await hive.store.list_approvals(kind="tool_use")) == 1


async def test_a_prompt_asked_again_between_the_commit_and_its_event_answers_both(hive: Hive) -> None:
    """A resolution is committed before its `approval_updated` event is told. A prompt asked again in that
    window reads the resolution from the store; the prompt already waiting must get it too, not wait on."""
    harness = await add_agent(hive, "alice")
    await harness.request("hello", role="harness")
    socket = hive.settings.agent_socket_dir("alice") / "mcp.sock"
    first = asyncio.create_task(prompt(socket, "Bash", TOUCH, "toolu_1"))
    card = (await pending_tool_use(hive, 1))[0]
    # The window, held open: the store says denied, and no event has been told yet.
    resolved = await hive.store.resolve_approval(card.id, "denied", "not now", card.requested_at, done=True)
    assert resolved is not None
    again = await asyncio.wait_for(prompt(socket, "Bash", TOUCH, "toolu_1"), 30)
    assert (again["behavior"], again["message"]) == ("deny", "not now")
    answered = await asyncio.wait_for(first, 30)
    assert (answered["behavior"], answered["message"]) == ("deny", "not now")
    await harness.close()


async def test_an_approved_prompt_answers_allow_with_the_calls_exact_input(hive: Hive) -> None:
    """The permission decision the CLI gets: `allow` with the input the operator saw, nothing else."""
    harness = await add_agent(hive, "alice")
    await harness.request("hello", role="harness")
    socket = hive.settings.agent_socket_dir("alice") / "mcp.sock"
    waiting = asyncio.create_task(prompt(socket, "Bash", TOUCH, "toolu_1"))
    card = (await pending_tool_use(hive, 1))[0]
    await hive.approvals.approve(card.id)
    answer = await asyncio.wait_for(waiting, 30)
    assert {k: v for k, v in answer.items() if k not in ("version", "ok", "req_id")} == {
        "behavior": "allow", "updatedInput": TOUCH}
    await harness.close()


async def prompt(socket: Path, tool: str, tool_input: dict[str, str], tool_use_id: str) -> dict[str, Any]:
    client = AsyncSocketClient(socket)
    try:
        return await client.request("tool_prompt", tool=tool, input=tool_input, tool_use_id=tool_use_id,
                                    ask=["Bash"])
    finally:
        await client.close()


async def pending_tool_use(hive: Hive, count: int) -> list[ApprovalRecord]:
    """Until `count` cards are pending, woken by the approvals' own events."""
    changed = asyncio.Event()
    found: list[ApprovalRecord] = []
    stop = hive.events.listen(lambda _: changed.set())
    try:
        async with asyncio.timeout(30):
            while len(found := await hive.store.list_approvals(status="pending", kind="tool_use")) < count:
                changed.clear()
                await changed.wait()
    finally:
        stop()
    return found


async def test_a_card_nobody_comes_back_for_after_a_restart_is_cancelled(short_tmp: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool_prompts, "REATTACH_SECONDS", 0.5)
    settings = settings_for(short_tmp)
    async with Hive(settings) as first:
        card = await a_prompt(first, "alice")
    async with Hive(settings) as second:  # the last daemon died with the call waiting; the call never returns
        cancelled = asyncio.Event()

        def heard(events: list[EventRecord]) -> None:
            if any(e.kind == "approval_updated" and e.payload.get("status") == "cancelled" for e in events):
                cancelled.set()

        second.events.listen(heard)
        stored = await second.store.get_approval(card.id)
        if stored is not None and stored.status == "pending":
            await asyncio.wait_for(cancelled.wait(), 30)
        stored = await second.store.get_approval(card.id)
    assert stored is not None and stored.status == "cancelled" and "restart" in (stored.note or "")
