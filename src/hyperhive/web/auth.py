"""The operator's credentials: a secret token kept in the state dir, and the session cookies it signs.

Whoever can read `dashboard.token` (mode 0600, the daemon's user) is the operator: `hivectl dashboard-url`
prints a login URL carrying it. A login trades the token for a session cookie, an HMAC over an issue time
keyed by the token, so sessions survive a daemon restart and die when the token file is replaced.
The CSRF token is derived from the session the same way, so the server keeps no session table.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from urllib.parse import quote

from hyperhive.config.settings import HiveSettings

from .config import DashboardConfig

log = logging.getLogger(__name__)

TOKEN_FILE = "dashboard.token"
SESSION_COOKIE = "hh_session"
SESSION_MAX_AGE = 7 * 24 * 3600
CSRF_HEADER = "x-csrf-token"


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def load_or_create_token(state_dir: Path) -> str:
    """The dashboard token, made on first start. A file others can read is tightened to 0600, not trusted."""
    path = token_path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was mode %o; made it 0600", path, mode)
        path.chmod(0o600)
    token = path.read_text().strip()
    if len(token) < 32:
        raise ValueError(f"{path} holds no usable token: delete it and restart hive-c0re to make a new one")
    return token


def dashboard_url(settings: HiveSettings, token: str, environ: dict[str, str] | None = None) -> str:
    """The login URL `hivectl dashboard-url` prints. A wildcard bind address is shown as this host's name."""
    config = DashboardConfig.from_settings(settings, environ)
    host = config.host
    if host in ("0.0.0.0", "::"):
        host = os.uname().nodename
    elif ":" in host:
        host = f"[{host}]"
    return f"{config.scheme}://{host}:{config.port}/login?token={quote(token, safe='')}"


class Sessions:
    """Signs and checks session cookies and their CSRF tokens; stateless on the server."""

    def __init__(self, token: str, max_age: int = SESSION_MAX_AGE) -> None:
        self._token = token
        self._key = hmac.new(token.encode(), b"hyperhive dashboard session v1", hashlib.sha256).digest()
        self.max_age = max_age

    def token_matches(self, given: str) -> bool:
        """Exactly the token: no stripping, so " token" or "token\n" is another token (and is refused)."""
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self._token.encode())

    def issue(self, now: float | None = None) -> str:
        body = f"{int(now if now is not None else time.time())}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._mac('session:' + body)}"

    def valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or cookie.count(".") != 2:
            return False
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session:" + body)):
            return False
        issued = body.split(".", 1)[0]
        age = (now if now is not None else time.time()) - int(issued) if issued.isdigit() else -1
        return 0 <= age <= self.max_age

    def csrf(self, cookie: str) -> str:
        return self._mac("csrf:" + cookie)

    def csrf_matches(self, cookie: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(cookie), given or "")

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:43]
