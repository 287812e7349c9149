"""An approval's image build on the dashboard, live: its log followed with inotify and pushed, the card
without buttons until it is built. The log here is a file the test appends to while the approval says
`building` (a build we can hold); tests/images/test_build_live.py shows a real build's apt lines."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.images import ImageService
from hyperhive.images.service import ApprovalBuild
from hyperhive.protocol import HiveError
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer
from tests.core.test_sandboxed_agents import AGENT_TOML, end_hive, start_hive
from tests.images.test_build_live import PACKAGES
from tests.support.configs import commit_agent_toml
from tests.support.hive import AgentConn, HiveProcess, wait_for
from tests.support.images import build_test_image
from tests.support.reaper import acting_as_init

from .conftest import logged_in, screenshot

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


async def test_a_failed_build_leaves_no_card_and_shows_apts_sentence_in_the_history(
        page: Any, server: DashboardServer, hive: Hive, tmp_path: Path) -> None:
    await call_verb(hive, {"cmd": "register_peer", "name": "bob"})
    log = tmp_path / "logs" / "f00.log"
    log.parent.mkdir()
    await page.goto(f"{server.url}/call")
    approval_id, build = await _building(hive, log)  # announced after the page loaded: it arrives live
    card = page.locator(f'article[data-approval="{approval_id}"]')
    await expect(card.locator(".badge")).to_have_text("building image")
    _append(log, "E: Unable to locate package hh-no-such-package")
    await expect(card.locator("pre.buildlog")).to_contain_text("Unable to locate package")
    build.done.set()
    failed = await hive.store.resolve_approval(approval_id, "failed", "Unable to locate package hh-no-such-package",
                                               time.time(), done=True)
    assert failed is not None
    await hive.approvals.tell(failed)  # as _propose does
    await expect(card).to_have_count(0)
    await expect(page.locator("#approvals-history")).to_contain_text(
        f"#{approval_id} apply_commit for bob")
    await expect(page.locator("#approvals-history")).to_contain_text("Unable to locate package hh-no-such-package")


# --- a real build, end to end -------------------------------------------------------------------------------
@pytest.mark.bwrap
@pytest.mark.timeout(900)
async def test_a_real_builds_mmdebstrap_lines_reach_the_card_before_it_can_be_approved(
        browser: Any, short_tmp: Path, claude_bin: str) -> None:
    """hm1nd asks for a change adding a package: while the real mmdebstrap build runs, your call shows the
    change as building with the build's own lines and no buttons; then the card with the image's size."""
    await asyncio.to_thread(build_test_image, claude_bin, [])
    service = ImageService(Path("/nonexistent-state"), "bwrap", Path(claude_bin))
    store, image_id = await service.store(), (await service.plan(PACKAGES)).final.image_id
    store.remove(image_id)  # a cold build each run
    build_log = store.log_path(image_id)
    build_log.unlink(missing_ok=True)  # a line seen in it below is this run's
    with acting_as_init():
        hive = start_hive(short_tmp / "hive", {"HYPERHIVE_MANAGER": "on", "HYPERHIVE_CLAUDE": claude_bin})
        try:
            await asyncio.to_thread(wait_for, lambda: (hive.settings.agent_socket_dir("hm1nd") / "manager.sock")
                                    .exists(), timeout=60)
            await asyncio.to_thread(hive.host.request, "spawn", name="alice", config=agent_config("alice"))
            url = (await asyncio.to_thread(hive.host.request, "dashboard_url"))["url"]
            async with logged_in(browser, url) as page:
                page.set_default_timeout(60_000)
                await page.goto(url.split("/login")[0] + "/call")
                await expect(page.locator("#live")).to_have_class("live on")
                asked = asyncio.create_task(asyncio.to_thread(ask_for_packages, hive))
                card = page.locator("article.card.building")
                # apt's update may take long on a loaded machine: wait for mmdebstrap to write the line, then
                # for the page to show it. Only a building card has this log: a line seen in it was pushed
                # while the build ran.
                await asyncio.to_thread(wait_for, lambda: build_log.exists()
                                        and "I: downloading packages with apt" in build_log.read_text(), 600)
                await expect(card.locator("pre.buildlog")).to_contain_text("I: downloading packages with apt",
                                                                           timeout=30_000)
                await expect(card.locator("button")).to_have_count(0)
                await screenshot(page, "image-building")
                approval = await asked
                built = page.locator(f'article[data-approval="{approval["id"]}"]')
                await expect(built.locator("button.good")).to_have_text("approve", timeout=30_000)
                await expect(built.locator(".built")).to_contain_text("MB on disk beyond the base (+sl)",
                                                                      timeout=30_000)
        finally:
            await asyncio.to_thread(end_hive, hive)


def agent_config(name: str, packages: list[str] | None = None) -> str:
    return (f"packages = {json.dumps(packages)}\n" if packages else "") + AGENT_TOML.format(name=name)


def ask_for_packages(hive: HiveProcess) -> dict[str, Any]:
    sha = commit_agent_toml(hive.settings.state_dir, "alice", agent_config("alice", PACKAGES), "packages")
    with AgentConn(hive.settings.agent_socket_dir("hm1nd") / "manager.sock") as hm1nd:
        approval: dict[str, Any] = hm1nd.request("request_apply_commit", agent="alice", commit_ref=sha)["approval"]
    assert approval["status"] == "pending", approval
    return approval
