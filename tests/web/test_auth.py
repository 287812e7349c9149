"""Who may use the dashboard: the token holder, through a session cookie, with CSRF on every change."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from hyperhive.core.hive import Hive
from hyperhive.web.auth import SESSION_COOKIE, Sessions, dashboard_url, load_or_create_token, token_path
from hyperhive.web.config import DashboardConfig, DashboardConfigError, parse_address

from ..support.hive import settings_for
from .conftest import Operator


def test_token_is_made_once_with_mode_0600(short_tmp: Path) -> None:
    first = load_or_create_token(short_tmp / "state")
    assert len(first) >= 40
    assert stat.S_IMODE(token_path(short_tmp / "state").stat().st_mode) == 0o600
    assert load_or_create_token(short_tmp / "state") == first


def test_a_token_file_others_can_read_is_tightened(short_tmp: Path) -> None:
    load_or_create_token(short_tmp)
    token_path(short_tmp).chmod(0o644)
    load_or_create_token(short_tmp)
    assert stat.S_IMODE(token_path(short_tmp).stat().st_mode) == 0o600


def test_dashboard_url_carries_the_token(short_tmp: Path) -> None:
    settings = settings_for(short_tmp, dashboard="127.0.0.1:7000")
    assert dashboard_url(settings, "t/k+n", {}) == "http://127.0.0.1:7000/login?token=t%2Fk%2Bn"
    tls = {"HYPERHIVE_DASHBOARD_TLS_CERT": "/c.pem", "HYPERHIVE_DASHBOARD_TLS_KEY": "/k.pem"}
    assert dashboard_url(settings_for(short_tmp, dashboard="[::1]:8443"), "x", tls) == "https://[::1]:8443/login?token=x"


def test_non_loopback_without_tls_or_proxy_is_refused_with_the_way_out(short_tmp: Path) -> None:
    config = DashboardConfig.from_settings(settings_for(short_tmp, dashboard="0.0.0.0:7000"), {})
    with pytest.raises(DashboardConfigError) as refused:
        config.check_exposure()
    for hint in ("127.0.0.1:7000", "HYPERHIVE_DASHBOARD_TLS_CERT", "HYPERHIVE_DASHBOARD_PROXY"):
        assert hint in str(refused.value)
    DashboardConfig.from_settings(settings_for(short_tmp, dashboard="0.0.0.0:7000"),
                                  {"HYPERHIVE_DASHBOARD_PROXY": "10.0.0.5"}).check_exposure()
    for loopback in ("127.0.0.1:1", "[::1]:1", "localhost:1", "127.8.9.1:1"):
        DashboardConfig(*parse_address(loopback)).check_exposure()
    with pytest.raises(DashboardConfigError, match="both"):
        DashboardConfig.from_settings(settings_for(short_tmp), {"HYPERHIVE_DASHBOARD_TLS_CERT": "/c.pem"})
    with pytest.raises(DashboardConfigError, match="host:port"):
        parse_address("7000")


def test_session_cookies_are_signed_and_expire() -> None:
    sessions = Sessions("a" * 43, max_age=60)
    cookie = sessions.issue(now=1000)
    assert sessions.valid(cookie, now=1030)
    assert not sessions.valid(cookie, now=1061)
    assert not sessions.valid(cookie.replace("1000", "1001"), now=1030)
    assert not Sessions("b" * 43).valid(cookie, now=1030)  # a new token ends every session
    assert sessions.csrf_matches(cookie, sessions.csrf(cookie))
    assert not sessions.csrf_matches(cookie, sessions.csrf(sessions.issue(now=1000)))


async def test_everything_but_login_needs_a_session(anon: httpx.AsyncClient) -> None:
    page = await anon.get("/swarm", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login"
    for url in ("/swarm.json", "/api/stream", "/agents/bob/transcript.json"):
        response = await anon.get(url)
        assert response.status_code == 401
        assert response.json()["ok"] is False and "hivectl dashboard-url" in response.json()["error"]
    assert (await anon.post("/api/verb", json={"cmd": "ping"})).status_code == 401
    assert (await anon.get("/login")).status_code == 200
    assert (await anon.get("/static/hive.css")).status_code == 200


async def test_login_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_url(
        anon: httpx.AsyncClient, hive: Hive) -> None:
    token = load_or_create_token(hive.settings.state_dir)
    wrong = await anon.get("/login", params={"token": "x" * 43})
    assert wrong.status_code == 403 and SESSION_COOKIE not in wrong.cookies
    response = await anon.get("/login", params={"token": token})
    assert response.status_code == 303 and response.headers["location"] == "/swarm"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert response.headers["referrer-policy"] == "no-referrer"
    assert (await anon.get("/swarm.json")).status_code == 200
    by_form = await anon.post("/login", data={"token": token})
    assert by_form.status_code == 303


async def test_state_changes_need_the_csrf_token(operator: Operator) -> None:
    client = operator.client
    missing = await client.post("/api/verb", json={"cmd": "ping"})
    assert missing.status_code == 403 and "CSRF" in missing.json()["error"]
    wrong = await client.post("/api/verb", json={"cmd": "ping"}, headers={"x-csrf-token": "0" * 43})
    assert wrong.status_code == 403
    right = await operator.post("/api/verb", {"cmd": "ping"})
    assert right.status_code == 200 and right.json()["pong"] is True
    cross = await client.post("/api/verb", json={"cmd": "ping"},
                              headers={"x-csrf-token": operator.csrf, "sec-fetch-site": "cross-site"})
    assert cross.status_code == 403


async def test_pages_carry_the_csrf_token_and_a_strict_csp(operator: Operator) -> None:
    page = await operator.get("/swarm")
    assert f'<meta name="csrf-token" content="{operator.csrf}">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_logout_clears_the_cookie(operator: Operator) -> None:
    response = await operator.post("/logout", {})
    assert response.status_code == 303 and "Max-Age=0" in response.headers["set-cookie"]
