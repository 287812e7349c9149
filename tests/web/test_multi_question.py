"""A question with `multi=True`, end to end: an agent asks it on its socket, the operator sees checkboxes
in headless Chromium, ticks two options and adds a word, and the asker gets exactly that answer by mail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.client import AsyncSocketClient
from hyperhive.core.hive import Hive
from hyperhive.web.server import DashboardServer
from tests.support.agents import host

pytestmark = pytest.mark.browser


async def test_a_multi_question_is_answered_with_several_options(page: Any, server: DashboardServer,
                                                                 hive: Hive) -> None:
    await host(hive, "register_peer", name="bob")
    bob = AsyncSocketClient(hive.settings.agent_socket_dir("bob") / "mcp.sock")
    asked = (await bob.request("ask", question="which regions?", options=["eu", "us", "asia"], multi=True))["question"]
    assert asked["multi"] is True
    listed = (await host(hive, "questions"))["questions"]
    assert [(q["id"], q["multi"], q["options"]) for q in listed] == [(asked["id"], True, ["eu", "us", "asia"])]

    await page.goto(f"{server.url}/call")
    card = page.locator(f'article[data-question="{asked["id"]}"]')
    boxes = card.locator("input[type=checkbox]")
    await expect(boxes).to_have_count(3)  # several may be picked: checkboxes, not one-click buttons
    await card.locator("label", has_text="eu").locator("input").check()
    await card.locator("label", has_text="asia").locator("input").check()
    await card.locator("input.note").fill("not us yet")
    await card.locator("button", has_text="answer").click()
    await expect(card).to_have_count(0)

    got = await bob.request("recv", wait_seconds=10, ack=True)
    answered = [json.loads(m["body"]) for m in got["messages"] if m["sender"] == "system"]
    assert [(e["event"], e["answer"]) for e in answered] == [("question_answered", "eu, asia, not us yet")]
    await bob.close()


async def test_a_multi_question_to_an_agent_says_so_in_its_mail(hive: Hive) -> None:
    for name in ("alice", "bob"):
        await host(hive, "register_peer", name=name)
    alice = AsyncSocketClient(hive.settings.agent_socket_dir("alice") / "mcp.sock")
    bob = AsyncSocketClient(hive.settings.agent_socket_dir("bob") / "mcp.sock")
    await alice.request("ask", question="which days?", options=["mon", "tue"], multi=True, to="bob")
    told = json.loads((await bob.request("recv", wait_seconds=10, ack=True))["messages"][0]["body"])
    assert (told["event"], told["multi"], told["options"]) == ("question_asked", True, ["mon", "tue"])
    await alice.close()
    await bob.close()
