"""An approval's image build on the dashboard, live: its log followed with inotify and pushed, the card
without buttons until it is built. The log here is a file the test appends to while the approval says
`building` (a build we can hold); tests/images/test_build_live.py shows a real build's apt lines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.images.service import ApprovalBuild
from hyperhive.protocol import HiveError
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer

pytestmark = pytest.mark.browser


async def _building(hive: Hive, log: Path) -> tuple[int, ApprovalBuild]:
    """A stored apply_commit whose image builds, announced as _propose announces it."""
    record = await hive.store.add_approval(
        "apply_commit", "bob", "hm1nd", commit_ref="abc1234", fetched_sha="abc1234" * 5, description="add rg",
        payload={"diff": "+packages = [\"ripgrep\"]", "image_build": "building", "image": "f00",
                 "image_log": str(log)}, status="pending", at=time.time())
    build = ApprovalBuild(record.id, "bob", log)
    hive.images.announce(build)
    return record.id, build


def _append(log: Path, *lines: str) -> None:
    with log.open("a") as out:
        out.write("".join(f"{line}\n" for line in lines))


async def test_a_building_approval_shows_its_log_live_and_no_buttons_until_built(
        page: Any, server: DashboardServer, hive: Hive, tmp_path: Path) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    log = tmp_path / "logs" / "f00.log"
    log.parent.mkdir()
    _append(log, "I: chroot architecture amd64 is equal to the host's architecture")
    approval_id, build = await _building(hive, log)
    await page.goto(f"{server.url}/call")
    card = page.locator(f'article[data-approval="{approval_id}"]')
    await expect(card.locator(".badge")).to_have_text("building image")
    await expect(card.locator("pre.buildlog")).to_contain_text("equal to the host's architecture")
    await expect(card.locator("button")).to_have_count(0)  # nothing to decide on an unbuilt change
    with pytest.raises(HiveError, match="still being built"):
        await call_verb(hive, {"cmd": "approve", "id": approval_id})

    _append(log, "Get:1 http://deb.debian.org/debian bookworm/main amd64 ripgrep amd64 13.0.0-4+b2 [1,381 kB]")
    await expect(card.locator("pre.buildlog")).to_contain_text("ripgrep amd64 13.0.0-4+b2")

    agent = await page.context.new_page()  # the agent page shows the same build, from its own snapshot
    await agent.goto(f"{server.url}/agents/bob")
    mini = agent.locator(f'#loose-ends [data-approval="{approval_id}"]')
    await expect(mini.locator(".badge")).to_have_text("building image")
    await expect(mini.locator("pre.buildlog")).to_contain_text("ripgrep amd64 13.0.0-4+b2")
    _append(log, "Setting up ripgrep (13.0.0-4+b2) ...")
    for view in (card, mini):
        await expect(view.locator("pre.buildlog")).to_contain_text("Setting up ripgrep")
        text = await view.locator("pre.buildlog").text_content()
        assert text is not None and text.count("Get:1 ") == 1  # the snapshot's tail and the pushed lines meet

    # Built: the card arrives with its buttons and the size, as _propose then shows it.
    await hive.store.update_approval(approval_id, payload={"image_build": "built", "image_size_mb": 5.2,
                                                           "packages": "+ripgrep"})
    build.done.set()
    await hive.approvals.track(approval_id)
    await expect(card.locator("button.good")).to_have_text("approve")
    await expect(card.locator(".built")).to_contain_text("image built: 5.2 MB")
    await expect(mini.locator(".badge")).to_have_text("pending")
    await agent.close()
