"""Where the dashboard listens and how it may be reached.

The address is the hive's `dashboard` setting. Three more knobs come from the environment (until they join
config/settings.py's table): TLS served by the dashboard itself, or a TLS-terminating reverse proxy in front.
Without one of them, only a loopback address is accepted: the login token and session cookie would
otherwise cross the network in clear text.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hyperhive.config.settings import HiveSettings

TLS_CERT_ENV = "HYPERHIVE_DASHBOARD_TLS_CERT"
TLS_KEY_ENV = "HYPERHIVE_DASHBOARD_TLS_KEY"
PROXY_ENV = "HYPERHIVE_DASHBOARD_PROXY"


class DashboardConfigError(Exception):
    """A dashboard setting the daemon refuses; the message says how to fix it."""


@dataclass(frozen=True)
class DashboardConfig:
    host: str
    port: int
    tls_cert: Path | None = None
    """PEM certificate chain: the dashboard serves HTTPS itself."""
    tls_key: Path | None = None
    proxies: tuple[str, ...] = ()
    """Addresses of the TLS-terminating reverse proxy in front; X-Forwarded-* is trusted from them only."""

    @classmethod
    def from_settings(cls, settings: HiveSettings, environ: Mapping[str, str] | None = None) -> DashboardConfig:
        env = os.environ if environ is None else environ
        host, port = parse_address(settings.dashboard)
        cert, key = env.get(TLS_CERT_ENV) or None, env.get(TLS_KEY_ENV) or None
        if bool(cert) != bool(key):
            raise DashboardConfigError(f"set both {TLS_CERT_ENV} and {TLS_KEY_ENV} (certificate and key), or neither")
        proxies = tuple(p.strip() for p in env.get(PROXY_ENV, "").split(",") if p.strip())
        return cls(host, port, Path(cert) if cert else None, Path(key) if key else None, proxies)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def check_exposure(self) -> None:
        """Refuse a non-loopback address that nothing protects with TLS."""
        if is_loopback(self.host) or self.tls or self.proxies:
            return
        raise DashboardConfigError(
            f"the dashboard would listen on {self.host}:{self.port} without TLS, so its login token would cross "
            f"the network in clear text. Bind it to loopback (HYPERHIVE_DASHBOARD=127.0.0.1:{self.port}), or "
            f"set {TLS_CERT_ENV} and {TLS_KEY_ENV} to serve HTTPS, or set {PROXY_ENV} to the address of the "
            "TLS-terminating reverse proxy in front of it."
        )


def parse_address(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise DashboardConfigError(f"the dashboard address {address!r} is not host:port (e.g. 127.0.0.1:7000)")
    host = host.removeprefix("[").removesuffix("]")
    return host or "0.0.0.0", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: we cannot promise where it resolves
