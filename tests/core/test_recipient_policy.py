"""allowed_recipients holds for every verb that carries an agent's text to another (issue 13, defect 1):
send, send_batch, broadcast, ask, answer and scheduled prompts, on a managed agent; a peer (no agent.toml)
keeps writing to anyone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hyperhive.client import AsyncSocketClient, RequestFailed
from hyperhive.core.hive import Hive
from tests.support.agents import host

LOCKED = 'name = "ma"\nrole = "agent"\nmodel = "claude-sonnet-4-5"\nallowed_recipients = []\n'


@pytest.fixture
async def clients(hive: Hive) -> AsyncIterator[tuple[AsyncSocketClient, AsyncSocketClient]]:
    """`ma`, a managed agent whose deployed config allows no agent, and `pb`, a peer."""
    await hive.deployments.spawn_now("ma", "", LOCKED)
    await hive.supervisor.stop_agent("ma")  # its config stays deployed; this test speaks on its socket
    await host(hive, "register_peer", name="pb")
    ma = AsyncSocketClient(hive.settings.agent_socket_dir("ma") / "mcp.sock")
    pb = AsyncSocketClient(hive.settings.agent_socket_dir("pb") / "mcp.sock")
    yield ma, pb
    await ma.close()
    await pb.close()


async def refused(client: AsyncSocketClient, cmd: str, **fields: object) -> str:
    with pytest.raises(RequestFailed) as caught:
        await client.request(cmd, **fields)
    assert caught.value.code == "not_allowed", caught.value
    return caught.value.message


async def test_every_verb_that_carries_text_keeps_to_allowed_recipients(
        hive: Hive, clients: tuple[AsyncSocketClient, AsyncSocketClient]) -> None:
    ma, pb = clients
    assert "allowed_recipients" in await refused(ma, "send", to="pb", body="hi")
    await refused(ma, "send_batch", messages=[{"to": "operator", "body": "fine"}, {"to": "pb", "body": "no"}])
    await refused(ma, "send", to="*", body="everyone")
    assert "allowed_recipients" in await refused(ma, "ask", question="smuggled?", to="pb")
    await refused(ma, "request_schedule_prompt", targets=["pb"], body="later", first_fire_at=4e9)
    assert (await pb.request("recv"))["messages"] == []  # not one of those reached the peer
    # What stays open to a locked agent: the operator and the manager's questions, and its own mail.
    assert (await ma.request("ask", question="may I?"))["question"]["target"] == "operator"
    # A peer has no agent.toml: it may ask ma, but ma's answer is ma's text reaching pb, so it is refused.
    asked = (await pb.request("ask", question="what colour?", to="ma"))["question"]
    assert "allowed_recipients" in await refused(ma, "answer", id=asked["id"], answer="blue")
    stored = await hive.store.get_question(asked["id"])
    assert stored is not None and stored.status == "open"
    assert (await pb.request("recv"))["messages"] == []  # nothing of ma's reached the peer
