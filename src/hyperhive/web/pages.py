"""HTML pages and the login. A page is its Jinja shell plus its snapshot as inline JSON; the page's
script draws the snapshot and then follows the live stream (docs/dashboard.md)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from . import snapshots
from .api import dashboard
from .auth import SESSION_COOKIE
from .responses import as_hive_error
from .security import session_cookie_header
from .usage import cost_bars, usage_snapshot

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(env=Environment(
    loader=ChoiceLoader([FileSystemLoader(TEMPLATES)]), autoescape=select_autoescape(default=True),
))
ERROR_STATUS = {"not_found": 404, "invalid_name": 404}

Snapshot = Callable[[Request], Awaitable[BaseModel]]


def page(template: str, title: str, tab: str, snapshot: Snapshot) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        try:
            snap = (await snapshot(request)).model_dump(mode="json")
        except Exception as exc:  # the page says what went wrong, in the same frame
            error = as_hive_error(exc)
            return _render(request, "error.html", {"title": title, "tab": tab, "error": error.message},
                           ERROR_STATUS.get(error.code, 500))
        heading = snap.get("row", {}).get("name", title)
        return _render(request, template, {"title": heading, "tab": tab, "snapshot": snap})

    return handler


async def usage_page(request: Request) -> Response:
    snap = await usage_snapshot(dashboard(request))
    return _render(request, "usage.html", {"title": "usage", "tab": "usage", "snapshot": snap.model_dump(mode="json"),
                                           "bars": cost_bars(snap.days)})


def _render(request: Request, template: str, context: dict[str, object], status: int = 200) -> Response:
    context = {"csrf": getattr(request.state, "csrf", ""), **context}
    return templates.TemplateResponse(request, template, context, status_code=status)


async def home(request: Request) -> Response:
    return RedirectResponse("/swarm", status_code=303)


# --- login ------------------------------------------------------------------------------------------
async def login(request: Request) -> Response:
    sessions = dashboard(request).sessions
    if request.method == "POST":
        given = str((await request.form()).get("token", ""))
    else:
        given = request.query_params.get("token", "")
        if not given:
            logged_in = sessions.valid(request.cookies.get(SESSION_COOKIE))
            if logged_in:
                return RedirectResponse("/swarm", status_code=303)
            return _render(request, "login.html", {"title": "log in", "tab": None})
    if not sessions.token_matches(given):
        return _render(request, "login.html", {"title": "log in", "tab": None,
                                               "error": "That token is not this hive's. Run `hivectl dashboard-url`."},
                       403)
    # Redirect, so the token leaves the address bar and the history.
    response = RedirectResponse("/swarm", status_code=303)
    cookie = session_cookie_header(sessions.issue(time.time()), sessions.max_age, request.url.scheme == "https")
    response.headers.append("set-cookie", cookie)
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("set-cookie", session_cookie_header("", 0, request.url.scheme == "https"))
    return response


# --- pages ------------------------------------------------------------------------------------------
def _agent_name(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


ROUTES = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/swarm", page("swarm.html", "swarm", "swarm", lambda r: snapshots.swarm(dashboard(r)))),
    Route("/call", page("call.html", "your call", "call", lambda r: snapshots.your_call(dashboard(r)))),
    Route("/flow", page("flow.html", "flow", "flow", lambda r: snapshots.flow(dashboard(r)))),
    Route("/schedules", page("schedules.html", "schedules", "schedules", lambda r: snapshots.schedules(dashboard(r)))),
    Route("/usage", usage_page),
    Route("/agents/{name}", page("agent.html", "agent", "swarm",
                                 lambda r: snapshots.agent(dashboard(r), _agent_name(r)))),
    Route("/agents/{name}/logs", page("logs.html", "logs", "swarm",
                                      lambda r: snapshots.logs(dashboard(r), _agent_name(r)))),
]
