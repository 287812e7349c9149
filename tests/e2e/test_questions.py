"""A question to the operator on the real Claude CLI: the agent's turn calls `ask` with options, the
operator answers with hivectl, and the answer's event wakes the agent's next turn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.scripted_api import ScriptedApi, after_tool

pytestmark = pytest.mark.claude
ASK = "mcp__hyperhive__ask"
ANSWER = "mcp__hyperhive__answer"


def test_ask_the_operator_and_wake_on_the_answer(short_tmp: Path, claude_bin: str) -> None:
    with ScriptedApi() as api:
        api.on("which colour", reply.tool_use(ASK, {"question": "Blue or green?", "options": ["blue", "green"]}))
        api.on(after_tool(ASK), reply.text("asked; waiting for the answer"))
        api.on("question_answered", reply.text("green it is"))
        (short_tmp / "hive").mkdir()
        hive = HiveProcess(short_tmp / "hive", env={"HYPERHIVE_CLAUDE": claude_bin, "CLAUDE_CODE_MAX_RETRIES": "0",
                                                    **api.env()})
        hive.start()
        try:
            hive.host.request("spawn", name="alice")
            hive.host.request("send", to="alice", body="which colour should the logo be? ask the operator")
            question = wait_for(lambda: hive.host.request("questions")["questions"], timeout=60)[0]
            assert (question["asker"], question["options"]) == ("alice", ["blue", "green"])
            answered = subprocess.run([sys.executable, "-m", "hyperhive.cli.hivectl", "--runtime-dir",
                                       str(hive.settings.runtime_dir), "answer", str(question["id"]), "green"],
                                      capture_output=True, text=True, timeout=30)
            assert answered.returncode == 0, answered.stderr
            woke = api.wait_for_request(lambda r: "question_answered" in r.last_user_text, timeout=60)
            event = json.loads(woke.last_user_text[woke.last_user_text.index("{"):])
            assert (event["id"], event["answer"], event["answered_by"]) == (question["id"], "green", "operator")
            assert "from system" in woke.last_user_text
        finally:
            hive.host.request("stop", all=True)
            hive.stop()
