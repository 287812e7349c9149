"""Browser notifications (issue 18): with the permission granted, Chromium shows what needs the operator as
a real `Notification` on any dashboard page, here mail to the operator and a spent budget."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from hyperhive.core.hive import Hive
from hyperhive.gateway.usage import Usage
from hyperhive.web.server import DashboardServer
from tests.support.agents import add_agent

# Records each Notification the page constructs as an element the test can wait for (the page's CSP forbids
# the eval behind wait_for_function); the real Notification is still made and shown.
SPY = """(() => {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      const seen = document.createElement("output");
      seen.className = "shown-notification";
      seen.dataset.title = title;
      seen.dataset.body = options.body;
      document.documentElement.append(seen);
    }
  };
  Object.defineProperty(window.Notification, "permission", {get: () => Real.permission});
})();"""


async def test_chromium_shows_what_needs_the_operator(browser: Any, server: DashboardServer, hive: Hive) -> None:
    (hive.settings.state_dir / "host.toml").write_text("[budget]\ndaily_tokens = 10\n")
    context = await browser.new_context(permissions=["notifications"])
    await context.add_init_script(SPY)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(server.login_url)
        await expect(page.locator("#live")).to_have_class("live on")
        assert await page.evaluate("Notification.permission") == "granted"
        alice = await add_agent(hive, "alice")
        await alice.request("send", to="operator", body="The report is ready.")
        shown = page.locator(".shown-notification")
        await expect(shown).to_have_count(1)
        await expect(shown.nth(0)).to_have_attribute("data-title", "mail from alice")
        await expect(shown.nth(0)).to_have_attribute("data-body", "The report is ready.")
        hive.gateway.spend.record("alice", "claude-haiku-4-5", Usage(input_tokens=50))
        await expect(shown).to_have_count(2)
        await expect(shown.nth(1)).to_have_attribute("data-title", "alice: budget exhausted")
        await expect(shown.nth(1)).to_have_attribute("data-body", re.compile(r"daily_tokens \(10\) is spent"))
        await alice.close()
    finally:
        await context.close()
    assert not errors, errors
