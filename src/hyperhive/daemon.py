"""hive-c0re's life in three phases: start (open every part), run (until a signal), stop (close in reverse).

This is where the daemon is put together: the hive (core/) and its dashboard (web/), which core/ never
imports (`make_hive` hands the hive a factory for it).

A first SIGINT/SIGTERM asks for a clean stop; a second one forces the exit. Readiness is announced on
a file descriptor the caller passed (`--ready-fd`, used by tests and scripts) and to systemd when
NOTIFY_SOCKET is set — the caller waits on that instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Iterator

from hyperhive.config.settings import HiveSettings
from hyperhive.core.hive import Hive
from hyperhive.core.lineserver import check_not_in_use
from hyperhive.core.parts import DashboardService
from hyperhive.protocol.fields import build_deferred
from hyperhive.store import Store

log = logging.getLogger(__name__)


class SettingsRefused(Exception):
    """A setting the daemon refuses before it makes anything (a socket, a file); the message says why."""


def check_settings(settings: HiveSettings) -> None:
    """Everything the start phase would refuse and can be known from the settings alone, checked before
    any socket is made, so a refusal leaves nothing behind."""
    if settings.dashboard == "off":
        return
    from hyperhive.web.config import DashboardConfig, DashboardConfigError  # the daemon extra

    try:
        DashboardConfig.from_settings(settings).check_exposure()
    except DashboardConfigError as exc:
        raise SettingsRefused(str(exc)) from None


def make_hive(settings: HiveSettings, store: Store | None = None) -> Hive:
    """The hive with its dashboard (unless the dashboard setting is `off`)."""
    return Hive(settings, store, dashboard=_dashboard_server)


def _dashboard_server(hive: Hive) -> DashboardService:
    from hyperhive.web.server import DashboardServer  # the daemon extra; agents never import it

    return DashboardServer(hive)


async def run_daemon(settings: HiveSettings, ready_fd: int | None = None) -> None:
    check_settings(settings)
    # A daemon already serving this host socket is refused before anything opens: the store, the leader's
    # lease and the agents' rows are that daemon's (its sockets check again as they bind, for two at once).
    check_not_in_use(settings.host_socket)
    build_deferred()  # the protocol's models are built on first use (decisions.md); here, before any request
    stop = asyncio.Event()
    with _stop_on_signals(stop):
        async with make_hive(settings):
            # What startup made (modules, pydantic's schemas, the hive's parts: ~70,000 objects) is never
            # garbage: frozen, the collector's full passes under load stop walking it (docs/decisions.md).
            gc.collect()
            gc.freeze()
            _announce_ready(ready_fd)
            await stop.wait()
            log.info("hive-c0re stopping")
    log.info("hive-c0re stopped")


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()

    def handle(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _announce_ready(ready_fd: int | None) -> None:
    if ready_fd is not None:
        with contextlib.suppress(OSError):
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
    notify = os.environ.get("NOTIFY_SOCKET")
    if notify:
        address = "\0" + notify[1:] if notify.startswith("@") else notify
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"READY=1", address)
