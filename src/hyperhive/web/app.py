"""The dashboard's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import api, pages
from .dashboard import Dashboard
from .security import SecurityMiddleware

if TYPE_CHECKING:
    from hyperhive.core.hive import Hive

STATIC = Path(__file__).parent / "static"


def create_app(hive: Hive, dashboard: Dashboard | None = None) -> Starlette:
    """The app for `hive`. Given a `dashboard`, its owner starts and closes it (DashboardServer does);
    otherwise the app's lifespan does (tests enter `app.router.lifespan_context(app)`)."""
    owned = dashboard is None
    board = dashboard or Dashboard(hive)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if owned:
            await board.start()
        try:
            yield
        finally:
            if owned:
                await board.close()

    app = Starlette(
        routes=[*api.ROUTES, *pages.ROUTES, Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(SecurityMiddleware, sessions=board.sessions)],
        lifespan=lifespan,
    )
    app.state.dashboard = board
    return app
