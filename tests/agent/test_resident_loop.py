"""The turn loop on its default resident CLI (real CLI, scripted API, in-process hive): two messages are two
turns of one process, each acked when its turn ends; the operator's new session starts a new process."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.agent.resident import ResidentDriver
from hyperhive.core.hive import Hive
from tests.agent.loop_support import Watch, harness, send, settled, unacked
from tests.support import api_replies as reply
from tests.support.agents import host
from tests.support.scripted_api import ScriptedApi

pytestmark = pytest.mark.claude


async def test_two_messages_are_two_turns_of_one_cli_until_a_new_session(hive: Hive, claude_bin: str,
                                                                         short_tmp: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_CLAUDE_PROCESS", raising=False)  # the default, as a harness starts
    watch = Watch(hive)
    with ScriptedApi() as api:
        api.on("alpha-msg", reply.text("one"))
        api.on("beta-msg", reply.text("two"))
        api.on("gamma-msg", reply.text("three"))
        async with harness(hive, api, claude_bin, short_tmp) as loop:
            if not isinstance(loop.driver, ResidentDriver):
                pytest.fail("the harness's default driver is not the resident one")
            pids = []
            for n, body in enumerate(("alpha-msg", "beta-msg"), start=1):
                await send(hive, body)
                await watch.until(lambda n=n: len([e for e in watch.turn_ends() if e["ok"]]) == n)  # type: ignore[misc]
                await settled(hive)
                assert await unacked(hive) == 0  # acked once its turn ended
                pids.append(loop.driver.pid)
            assert pids[0] is not None and pids[0] == pids[1]  # kept between the turns
            session = loop.session_id
            await host(hive, "new_session", name="alice")
            await watch.until(lambda: [e for e in watch.events if e.kind == "turn.note"
                                       and "new session" in str(e.payload.get("text"))])
            await send(hive, "gamma-msg")
            await watch.until(lambda: len([e for e in watch.turn_ends() if e["ok"]]) == 3)
            assert loop.driver.pid not in (None, pids[0]) and loop.session_id not in (None, session)
            assert "alpha-msg" not in api.message_requests[-1].all_text  # a fresh history
