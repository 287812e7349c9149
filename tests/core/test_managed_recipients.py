"""`allowed_recipients` of a *managed* agent, enforced at its socket (peers have no config, so the peer
stories never reach this check): a real spawned agent on the process runtime, its deployed agent.toml, and
a client on its mcp.sock speaking as it."""

from __future__ import annotations

import pytest

from hyperhive.client import AsyncSocketClient, RequestFailed
from hyperhive.core.hive import Hive
from tests.support.agents import host

AMY = """name = "amy"
description = "may write to bob only"
role = "agent"
model = "claude-sonnet-4-5"
allowed_recipients = ["bob"]
"""


async def test_a_managed_agent_may_send_only_to_its_allowed_recipients(hive: Hive) -> None:
    for peer in ("bob", "carol"):
        await host(hive, "register_peer", name=peer)
    await host(hive, "spawn", name="amy", config=AMY)
    amy = AsyncSocketClient(hive.settings.agent_socket_dir("amy") / "mcp.sock")
    try:
        assert (await amy.request("send", to="bob", body="hi bob"))["ok"]
        assert (await amy.request("send", to="operator", body="always reachable"))["ok"]
        with pytest.raises(RequestFailed) as refused:
            await amy.request("send", to="carol", body="hi carol")
        assert refused.value.code == "not_allowed" and "carol" in str(refused.value)
        with pytest.raises(RequestFailed) as batch:
            await amy.request("send_batch", messages=[{"to": "bob", "body": "a"}, {"to": "carol", "body": "b"}])
        assert batch.value.code == "not_allowed"
        recent = (await host(hive, "recent", limit=20))["messages"]
        assert sorted(m["recipient"] for m in recent if m["sender"] == "amy") == ["bob", "operator"]  # nothing to carol
    finally:
        await amy.close()
        await host(hive, "kill", all=True)
