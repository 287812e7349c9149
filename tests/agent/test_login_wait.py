"""An agent that needs a login leaves `needs_login` by itself when its credentials change (inotify on the
CLI's config dir), and the manager and the operator hear `needs_login` and `logged_in` (issue 15, item 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperhive.agent.loop import LoopTimings
from hyperhive.core.hive import Hive
from hyperhive.protocol import OPERATOR
from tests.support import api_replies as reply
from tests.support.scripted_api import ScriptedApi

from .loop_support import Watch, harness, send, settled, unacked

pytestmark = pytest.mark.claude
NO_TIMER = LoopTimings(turn_timeout=60, login_retry=3600)  # only the credentials can end the wait


async def system_events(hive: Hive) -> list[dict[str, object]]:
    inbox = await hive.store.inbox_messages(OPERATOR, 50, unread_only=False)
    return [json.loads(m.body) for m in reversed(inbox) if m.sender == "system"]


async def test_new_credentials_end_needs_login_without_logged_in(hive: Hive, claude_bin: str,
                                                                 short_tmp: Path) -> None:
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.script(reply.auth_failed(), reply.auth_failed(), reply.text("logged in now"))
        async with harness(hive, api, claude_bin, short_tmp, NO_TIMER) as loop:
            await send(hive, "hello")
            await watch.until(lambda: (agent := hive.registry.get("alice")) and agent.needs_login)
            assert hive.registry.activity("alice") == ("needs_login",
                                                      "the Claude CLI is not logged in: run `hivectl login alice`")
            credentials = Path(loop.driver.env["CLAUDE_CONFIG_DIR"]) / ".credentials.json"
            credentials.write_text('{"claudeAiOauth": {"accessToken": "sk-ant-oat01-new"}}')  # as a login leaves it
            await watch.until(lambda: [e for e in watch.turn_ends() if e["ok"]])
            await settled(hive)
            assert not hive.registry.require("alice").needs_login
            assert await unacked(hive) == 0
    events = [(e["event"], e.get("command")) for e in await system_events(hive) if e["agent"] == "alice"]
    assert events == [("needs_login", "hivectl login alice"), ("logged_in", None)]
