"""The broker over real agent sockets: push wake-up, at-least-once, identity, recipients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hyperhive.client import AsyncSocketClient, RequestFailed
from hyperhive.core.hive import Hive
from tests.support.fixtures import on_both_backends

pytest_generate_tests = on_both_backends  # the broker and store behaviour, on SQLite and PostgreSQL


@pytest.fixture
async def clients() -> AsyncIterator[list[AsyncSocketClient]]:
    made: list[AsyncSocketClient] = []
    yield made
    for client in made:
        await client.close()


@pytest.fixture
def peers(clients: list[AsyncSocketClient]) -> Callable[..., Awaitable[dict[str, AsyncSocketClient]]]:
    async def register(hive: Hive, *names: str) -> dict[str, AsyncSocketClient]:
        made = {}
        for name in names:
            await hive.host_server.handle(None, {"cmd": "register_peer", "name": name})  # type: ignore[arg-type]
            made[name] = client(hive, name)
        return made

    def client(hive: Hive, name: str) -> AsyncSocketClient:
        made = AsyncSocketClient(hive.settings.agent_socket_dir(name) / "mcp.sock")
        clients.append(made)
        return made

    register.client = client  # type: ignore[attr-defined]
    return register


async def test_send_recv_ack(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    sent = await c["alice"].request("send", to="bob", body="hello bob")
    got = await c["bob"].request("recv", wait_seconds=0)
    assert [m["id"] for m in got["messages"]] == [sent["id"]]
    message = got["messages"][0]
    assert (message["sender"], message["recipient"], message["body"]) == ("alice", "bob", "hello bob")
    assert message["acked_at"] is None
    assert (await c["bob"].request("ack", ids=[sent["id"]]))["acked"] == [sent["id"]]
    assert (await c["bob"].request("ack", ids=[sent["id"]]))["acked"] == []  # acked once only
    assert (await c["bob"].request("recv", wait_seconds=0))["messages"] == []


async def test_blocked_recv_wakes_on_send_not_at_timeout(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    started = time.monotonic()
    waiting = asyncio.create_task(c["bob"].request("recv", wait_seconds=60))
    await asyncio.sleep(0.2)  # let the recv block first; the assertion is on what wakes it
    assert not waiting.done()
    await c["alice"].request("send", to="bob", body="wake up")
    got = await asyncio.wait_for(waiting, 5)
    assert got["messages"][0]["body"] == "wake up"
    assert time.monotonic() - started < 5


async def test_recv_times_out_empty(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice")
    started = time.monotonic()
    got = await c["alice"].request("recv", wait_seconds=0.3)
    assert got["messages"] == [] and got["pending"] == 0
    assert time.monotonic() - started >= 0.3


async def test_pending_count_and_batch_limit(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    for i in range(5):
        await c["alice"].request("send", to="bob", body=f"m{i}")
    got = await c["bob"].request("recv", max=2)
    assert [m["body"] for m in got["messages"]] == ["m0", "m1"] and got["pending"] == 3
    # In flight on this connection: a second reader does not get the same messages.
    other = peers.client(hive, "bob")
    got2 = await other.request("recv", max=32)
    assert [m["body"] for m in got2["messages"]] == ["m2", "m3", "m4"]


async def test_unacked_messages_come_back_when_the_reader_goes(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    sent = await c["alice"].request("send", to="bob", body="keep me")
    got = await c["bob"].request("recv")
    assert got["messages"][0]["id"] == sent["id"]
    await c["bob"].close()  # the harness crashed mid-turn
    again = await peers.client(hive, "bob").request("recv", wait_seconds=5)
    assert [m["id"] for m in again["messages"]] == [sent["id"]]  # same id: a duplicate is detectable


async def test_recv_with_ack_does_not_redeliver(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    await c["alice"].request("send", to="bob", body="once")
    assert len((await c["bob"].request("recv", ack=True))["messages"]) == 1
    await c["bob"].close()
    assert (await peers.client(hive, "bob").request("recv"))["messages"] == []


async def test_broadcast_reaches_every_other_agent(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob", "carol")
    sent = await c["alice"].request("send", to="*", body="all hands")
    assert sorted(sent["recipients"]) == ["bob", "carol"]
    for name in ("bob", "carol"):
        message = (await c[name].request("recv"))["messages"][0]
        assert message["broadcast"] is True and message["body"] == "all hands"
    assert (await c["alice"].request("recv"))["messages"] == []


async def test_identity_comes_from_the_socket(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    for forged in ({"sender": "bob"}, {"from": "bob"}, {"as": "bob"}):
        try:
            await c["alice"].request("send", to="bob", body="forged", **forged)
        except RequestFailed as exc:
            assert exc.code == "unknown_field"
        else:
            raise AssertionError(f"{forged} was accepted")
    await c["alice"].request("send", to="bob", body="honest")
    message = (await c["bob"].request("recv"))["messages"][0]
    assert message["sender"] == "alice"
    # An agent cannot ack another agent's mail.
    await c["alice"].request("ack", ids=[message["id"]])
    assert (await hive.store.get_message(message["id"])).acked_at is None  # type: ignore[union-attr]
    assert (await c["alice"].request("whoami"))["name"] == "alice"


async def test_operator_and_manager_alias(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "hm1nd")
    await c["alice"].request("send", to="manager", body="to the manager")
    assert (await c["hm1nd"].request("recv"))["messages"][0]["sender"] == "alice"
    await c["alice"].request("send", to="operator", body="to the operator")
    inbox = await hive.host_server.handle(None, {"cmd": "inbox"})  # type: ignore[arg-type]
    assert inbox is not None and inbox["messages"][0]["body"] == "to the operator" and inbox["unread"] == 1


async def test_in_reply_to_and_body_limits(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    first = await c["alice"].request("send", to="bob", body="q")
    reply = await c["bob"].request("send", to="alice", body="a", in_reply_to=first["id"])
    assert (await c["alice"].request("recv"))["messages"][0]["in_reply_to"] == first["id"]
    assert reply["id"] > first["id"]
    try:
        await c["alice"].request("send", to="bob", body="x" * (256 * 1024 + 1))
    except RequestFailed as exc:
        assert exc.code == "limit"
    else:
        raise AssertionError("an oversized body was accepted")


async def test_unregistered_socket_answers_nothing_else(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    await hive.host_server.handle(None, {"cmd": "unregister_peer", "name": "bob"})  # type: ignore[arg-type]
    try:
        await c["alice"].request("send", to="bob", body="gone?")
    except RequestFailed as exc:
        assert exc.code == "not_found"
    else:
        raise AssertionError("sent to an unregistered peer")
    assert not (hive.settings.agent_socket_dir("bob")).exists()


def _json(obj: Any) -> str:
    return json.dumps(obj)


async def test_send_batch_is_all_or_nothing(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob", "carol")
    result = await c["alice"].request("send_batch", messages=[
        {"to": "bob", "body": "one"}, {"to": "*", "body": "all"}, {"to": "carol", "body": "two"}])
    assert [r["recipients"] for r in result["results"]] == [["bob"], ["bob", "carol"], ["carol"]]
    try:
        await c["alice"].request("send_batch", messages=[{"to": "bob", "body": "x"}, {"to": "ghost", "body": "y"}])
    except RequestFailed as exc:
        assert exc.code == "not_found" and "ghost" in exc.message
    else:
        raise AssertionError("a batch with an unknown recipient was accepted")
    bodies = [m["body"] for m in (await c["bob"].request("recv"))["messages"]]
    assert bodies == ["one", "all"]  # nothing of the refused batch arrived


async def _asleep(hive: Hive, name: str) -> None:
    """Until a recv of `name` sleeps in the broker (so the next send finds a reader waiting)."""
    while not hive.broker.inboxes.readers_waiting(name):
        await asyncio.sleep(0)


async def test_a_waiting_reader_is_handed_new_mail_acked_in_the_send_commit(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    waiting = asyncio.create_task(c["bob"].request("recv", wait_seconds=30, max=2, ack=True))
    await asyncio.wait_for(_asleep(hive, "bob"), 10)
    await c["alice"].request("send_batch", messages=[{"to": "bob", "body": f"m{i}"} for i in range(3)])
    got = await asyncio.wait_for(waiting, 10)
    assert [m["body"] for m in got["messages"]] == ["m0", "m1"] and got["pending"] == 1
    first = await hive.store.get_message(got["messages"][0]["id"])
    assert first is not None and first.acked_at is not None  # committed acked before the answer
    if hive.store.hands_off:  # one commit stored the message, its delivery and its ack
        assert first.sent_at == first.delivered_at == first.acked_at
    rest = await c["bob"].request("recv", wait_seconds=0, ack=True)
    assert [m["body"] for m in rest["messages"]] == ["m2"] and rest["pending"] == 0


async def test_mail_handed_unacked_is_in_flight_and_comes_back_when_the_reader_goes(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    waiting = asyncio.create_task(c["bob"].request("recv", wait_seconds=30))
    await asyncio.wait_for(_asleep(hive, "bob"), 10)
    sent = await c["alice"].request("send", to="bob", body="hold me")
    got = await asyncio.wait_for(waiting, 10)
    assert [m["id"] for m in got["messages"]] == [sent["id"]]
    stored = await hive.store.get_message(sent["id"])
    assert stored is not None and stored.delivered_at is not None and stored.acked_at is None
    other = peers.client(hive, "bob")
    assert (await other.request("recv", wait_seconds=0))["messages"] == []  # in flight on the first reader
    await c["bob"].close()  # the harness crashed mid-turn
    again = await other.request("recv", wait_seconds=10)
    assert [m["id"] for m in again["messages"]] == [sent["id"]]


async def test_a_held_reader_is_not_handed_mail(hive: Hive, peers: Any) -> None:
    c = await peers(hive, "alice", "bob")
    await c["bob"].request("hello", role="harness")
    await hive.host_server.handle(None, {"cmd": "set_paused", "name": "bob", "paused": True})  # type: ignore[arg-type]
    waiting = asyncio.create_task(c["bob"].request("recv", wait_seconds=30))
    await asyncio.wait_for(_asleep(hive, "bob"), 10)
    sent = await c["alice"].request("send", to="bob", body="later")
    stored = await hive.store.get_message(sent["id"])
    assert stored is not None and stored.delivered_at is None and not waiting.done()
    await hive.host_server.handle(None, {"cmd": "set_paused", "name": "bob", "paused": False})  # type: ignore[arg-type]
    got = await asyncio.wait_for(waiting, 10)
    assert [m["body"] for m in got["messages"]] == ["later"]


async def test_a_send_cancelled_while_committing_still_hands_its_mail_over(hive: Hive, peers: Any) -> None:
    if not hive.store.hands_off:
        pytest.skip("only the SQLite store hands mail over in the send's commit")
    c = await peers(hive, "alice", "bob")
    waiting = asyncio.create_task(c["bob"].request("recv", wait_seconds=30, ack=True))
    await asyncio.wait_for(_asleep(hive, "bob"), 10)
    sending = asyncio.create_task(hive.broker.send("alice", "bob", "sent as the daemon stops"))
    await asyncio.sleep(0)  # one step: bob's reader is claimed and the insert is queued
    sending.cancel()
    got = await asyncio.wait_for(waiting, 10)  # stored acked: bob must have it, not lose it
    assert [m["body"] for m in got["messages"]] == ["sent as the daemon stops"]
