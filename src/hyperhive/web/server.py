"""The dashboard inside hive-c0re: a uvicorn server on the daemon's own loop.

`start` binds the socket itself, so a busy port or a refused address fails there, in the daemon's
start phase, with a sentence; requests that arrive before uvicorn's first accept wait in the backlog.
uvicorn installs no signal handlers (the daemon owns SIGINT/SIGTERM). `close` ends the live streams
first, since uvicorn's shutdown waits for open responses to finish and a stream never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from .app import create_app
from .auth import dashboard_url
from .config import DashboardConfig, DashboardConfigError
from .dashboard import Dashboard

if TYPE_CHECKING:
    from hyperhive.core.hive import Hive

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 3


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon handles signals and calls DashboardServer.close


class DashboardServer:
    def __init__(self, hive: Hive, config: DashboardConfig | None = None) -> None:
        self.hive = hive
        self.config = config or DashboardConfig.from_settings(hive.settings)
        self.dashboard = Dashboard(hive, self.config)
        self.app = create_app(hive, self.dashboard)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"{self.config.scheme}://{_url_host(self.config.host)}:{self.port}"

    @property
    def login_url(self) -> str:
        """With the port actually bound (the setting may say 0)."""
        base = dashboard_url(self.hive.settings, self.dashboard.token, {})
        return self.url + base[base.index("/login"):]

    async def start(self) -> None:
        self.config.check_exposure()
        sock = _bind(self.config.host, self.config.port)
        self.port = sock.getsockname()[1]
        await self.dashboard.start()
        proxies = list(self.config.proxies)
        uv = uvicorn.Config(
            self.app, lifespan="off", log_config=None, access_log=False,
            proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
            ssl_certfile=self.config.tls_cert, ssl_keyfile=self.config.tls_key,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
        self._server = _EmbeddedServer(uv)
        self._task = asyncio.create_task(self._serve(sock), name="dashboard")
        log.info("dashboard on %s", self.url)

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            await self._server.serve(sockets=[sock])
        except SystemExit:  # uvicorn exits the process when startup fails; we only report it
            log.error("the dashboard failed to start; the daemon runs on without it")
        finally:
            sock.close()

    async def close(self) -> None:
        await self.dashboard.close()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DashboardConfigError(f"the dashboard cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
