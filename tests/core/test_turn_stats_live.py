"""A real turn (the real Claude Code CLI on the scripted Messages API) lands in the turn_stats table: its
context size and cost reach the status row, and stay there across a daemon kill -9."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.postgres import hive_database
from tests.support.scripted_api import ScriptedApi
from tests.web.test_live_hive import AGENT_TOML

pytestmark = pytest.mark.claude


@pytest.fixture
def live(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    with ScriptedApi() as api:
        hive = HiveProcess(short_tmp, env={"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                           **api.env()})
        hive.start()
        try:
            yield hive, api
        finally:
            if hive.proc is None:
                hive.start()
            hive.host.request("kill", all=True)
            hive.stop()


def status(hive: HiveProcess) -> dict[str, object]:
    return dict(hive.host.request("agent_status", names=["alice"])["agent_statuses"][0])


def test_a_real_turn_is_a_row_with_context_and_cost(live: tuple[HiveProcess, ScriptedApi]) -> None:
    hive, api = live
    api.on("how big is your context", reply.text("quite big", input_tokens=1200, cache_read_tokens=30_000,
                                                 cache_creation_tokens=800))
    hive.host.request("spawn", name="alice", config=AGENT_TOML.format(name="alice"))
    row = status(hive)
    assert row["context_tokens"] is None and row["cost_usd_24h"] is None  # no turn yet
    hive.host.request("send", to="alice", body="how big is your context?")
    wait_for(lambda: status(hive)["context_tokens"] is not None, timeout=60)
    row = status(hive)
    # one API call: its prompt is input + cache read + cache creation, against the default window
    assert (row["context_tokens"], row["context_window"]) == (32_000, 200_000)
    assert isinstance(row["cost_usd_24h"], float)
    with hive_database(hive.settings) as db:
        turns = db.execute("SELECT agent, wake_from, ok, input_tokens, cache_read_tokens FROM turn_stats").fetchall()
    assert turns == [("alice", "operator", 1, 1200, 30_000)]
    hive.kill9()
    hive.start()
    assert status(hive)["context_tokens"] == 32_000  # from the table, not from the dead daemon's memory
