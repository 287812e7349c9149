"""The gate in front of every route: the operator's session, CSRF on state changes, security headers.

Pure ASGI (no BaseHTTPMiddleware) so the live stream passes through unbuffered. Open without a session:
the login page and the static files (they hold no data). A page request without a session is sent to
/login; anything else gets 401. A state-changing request must carry the CSRF token derived from its
session in the `X-CSRF-Token` header (pages read it from `<meta name="csrf-token">`), and a browser's
cross-site request is refused outright.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import CSRF_HEADER, SESSION_COOKIE, Sessions

PUBLIC_PREFIXES = ("/login", "/static/")
# No route takes more (a verb's body is at most one 1 MiB wire line); checked before anything reads the body,
# the login form included, which anyone who can reach the port may post.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the login URL carries the token
    (b"x-frame-options", b"DENY"),
]


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send, scope["path"])
        headers = _headers(scope)
        method: str = scope["method"]
        if method not in SAFE_METHODS and headers.get("sec-fetch-site", "same-origin") not in (
                "same-origin", "none"):
            await _refuse(send, 403, "cross-site requests are refused")
            return
        if _too_large(headers.get("content-length")):
            await _refuse(send, 413, f"the request body is over {MAX_REQUEST_BYTES} bytes", "limit")
            return
        path: str = scope["path"]
        if path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        cookie = _cookie(headers.get("cookie", ""))
        if cookie is None or not self.sessions.valid(cookie):
            await _unauthenticated(scope, send, headers)
            return
        if method not in SAFE_METHODS and not self.sessions.csrf_matches(cookie, headers.get(CSRF_HEADER)):
            await _refuse(send, 403, "the CSRF token is missing or wrong: reload the page")
            return
        scope.setdefault("state", {})["csrf"] = self.sessions.csrf(cookie)
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _cookie(header: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed cookie header means no session, not a 500
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else None


def wants_html(scope: Scope, headers: dict[str, str]) -> bool:
    path: str = scope["path"]
    return scope["method"] == "GET" and not path.startswith("/api/") and not path.endswith(".json") \
        and "text/html" in headers.get("accept", "text/html")


async def _unauthenticated(scope: Scope, send: Send, headers: dict[str, str]) -> None:
    if wants_html(scope, headers):
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", b"/login"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    await _refuse(send, 401, "log in first: `hivectl dashboard-url` prints a login URL")


def _too_large(length: str | None) -> bool:
    if length is None:
        return False
    return not length.isascii() or not length.isdigit() or len(length) > 12 or int(length) > MAX_REQUEST_BYTES


async def _refuse(send: Send, status: int, sentence: str, code: str = "not_allowed") -> None:
    body = json.dumps({"version": 1, "ok": False, "error": sentence, "code": code}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, path: str) -> Send:
    extra = list(HEADERS)
    if not path.startswith("/static/"):
        extra.append((b"cache-control", b"no-store"))

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def session_cookie_header(value: str, max_age: int, secure: bool) -> str:
    parts = [f"{SESSION_COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)

