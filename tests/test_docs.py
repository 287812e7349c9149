"""Docs that cannot fall behind: every setting, verb and error code is documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hyperhive.config.settings import SETTINGS
from hyperhive.protocol import ErrorCode
from hyperhive.protocol.agent_requests import AGENT_REQUEST
from hyperhive.protocol.host_requests import HOST_REQUEST

DOCS = Path(__file__).resolve().parent.parent / "docs"


def verbs(adapter: Any) -> list[str]:
    schema = adapter.core_schema
    return sorted(schema["schema"]["choices"] if "schema" in schema else schema["choices"])


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_setting_is_documented(setting: Any) -> None:
    text = (DOCS / "settings.md").read_text()
    assert f"| {setting.name} |" in text and setting.env in text


@pytest.mark.parametrize("code", list(ErrorCode))
def test_error_code_is_documented(code: ErrorCode) -> None:
    assert f"| `{code}` |" in (DOCS / "protocol.md").read_text()


def test_every_verb_is_documented() -> None:
    text = (DOCS / "protocol.md").read_text()
    assert "subscribe_agent_status" in verbs(HOST_REQUEST) and "recv" in verbs(AGENT_REQUEST)
    for cmd in verbs(HOST_REQUEST) + verbs(AGENT_REQUEST):
        assert f"| `{cmd}` |" in text, f"{cmd} is not in docs/protocol.md"
