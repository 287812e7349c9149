"""Dashboard fixtures: the app in-process (httpx over ASGI), a real server on a free loopback port, and
headless Chromium (Debian's, not a Playwright download)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hyperhive.core.hive import Hive
from hyperhive.protocol import HiveError
from hyperhive.web.app import create_app
from hyperhive.web.auth import CSRF_HEADER, SESSION_COOKIE
from hyperhive.web.config import DashboardConfig
from hyperhive.web.dashboard import Dashboard
from hyperhive.web.dispatch import call_verb
from hyperhive.web.server import DashboardServer
from tests.support.needs import require_chromium, unavailable

CHROMIUM = os.environ.get("HYPERHIVE_CHROMIUM", "/usr/bin/chromium")
REFUSED = "Failed to load resource: the server responded with a status of 4"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class Operator:
    """A logged-in client: posts carry the session's CSRF token."""

    def __init__(self, client: httpx.AsyncClient, board: Dashboard) -> None:
        self.client = client
        self.board = board

    @property
    def csrf(self) -> str:
        return self.board.sessions.csrf(self.client.cookies[SESSION_COOKIE])

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)

    async def post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(url, json=body, headers={CSRF_HEADER: self.csrf})

    async def verb(self, **request: Any) -> dict[str, Any]:
        response = await self.post("/api/verb", request)
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
async def app(hive: Hive) -> AsyncIterator[Starlette]:
    app = create_app(hive)
    async with app.router.lifespan_context(app):  # httpx's ASGI transport runs no lifespan
        yield app


Spawn = Callable[[str], Awaitable[None]]


@pytest.fixture
async def spawn(hive: Hive) -> AsyncIterator[Spawn]:
    """Spawns real managed agents (process runtime). They outlive the hive on purpose (a restarted daemon
    adopts them), so whatever is still running at the end is killed."""
    async def run(name: str) -> None:
        await call_verb(hive, {"cmd": "spawn", "name": name})

    try:
        yield run
    finally:
        with contextlib.suppress(HiveError):
            await call_verb(hive, {"cmd": "kill", "all": True})


@pytest.fixture
async def anon(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def operator(app: Starlette, anon: httpx.AsyncClient) -> Operator:
    board: Dashboard = app.state.dashboard
    response = await anon.get("/login", params={"token": board.token})
    assert response.status_code == 303, response.text
    return Operator(anon, board)


@pytest.fixture
async def server(hive: Hive) -> AsyncIterator[DashboardServer]:
    """A real uvicorn on 127.0.0.1 with a free port, in the test's loop like in the daemon."""
    running = DashboardServer(hive, DashboardConfig("127.0.0.1", 0))
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    chromium = require_chromium()
    from playwright.async_api import Error, async_playwright

    async with async_playwright() as pw:
        try:
            launched = await pw.chromium.launch(executable_path=chromium)
        except Error as exc:
            unavailable("Chromium", f"{chromium} did not launch: {exc.message.splitlines()[0]}")
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def logged_in(browser: Any, login_url: str, tolerate: tuple[str, ...] = ()) -> AsyncIterator[Any]:
    """A fresh browser context logged in through `login_url`. Script errors fail the test; a refused request
    is not one (the page shows a toast), nor are console lines containing one of `tolerate`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not msg.text.startswith(
        REFUSED) and not any(t in msg.text for t in tolerate) else None)
    page.set_default_timeout(10_000)
    await page.goto(login_url)
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
async def page(browser: Any, server: DashboardServer) -> AsyncIterator[Any]:
    """A logged-in page on the in-process server."""
    async with logged_in(browser, server.login_url) as opened:
        yield opened


async def screenshot(page: Any, name: str) -> Path:
    """A picture of the view for people (test-artifacts/ is not committed)."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path))
    return path
