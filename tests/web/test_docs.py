"""docs/dashboard.md cannot fall behind: every knob, topic and route it should explain is in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.routing import Route

from hyperhive.web import api, config, pages

DOC = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"
TOPICS = ["status", "message", "ack", "delivered", "operator", "turn", "lastturn", "approval", "question", "schedule",
          "reload"]


@pytest.mark.parametrize("name", [config.TLS_CERT_ENV, config.TLS_KEY_ENV, config.PROXY_ENV, "HYPERHIVE_DASHBOARD"])
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC.read_text()


@pytest.mark.parametrize("topic", TOPICS)
def test_every_stream_topic_is_documented(topic: str) -> None:
    assert f"| `{topic}` |" in DOC.read_text()


@pytest.mark.parametrize("route", [r for r in [*api.ROUTES, *pages.ROUTES] if isinstance(r, Route)],
                         ids=lambda r: r.path)
def test_every_route_is_documented(route: Route) -> None:
    assert f"`{route.path}`" in DOC.read_text()
