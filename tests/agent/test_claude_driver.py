"""The Claude Code driver against the real CLI (the pinned npm build) and the scripted Messages API.

Every turn here is a real `claude --print` process: what these tests assert about the stream-json lines,
the exit codes and the signals is what Claude Code 2.1.331 does, not what we think it does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest

from hyperhive.agent.claude_driver import BrainConfig, ClaudeDriver, TurnOutcome
from hyperhive.agent.claude_files import ClaudeFiles
from hyperhive.agent.turn_stats import OutcomeKind, TurnRecord
from tests.support import api_replies as reply
from tests.support.scripted_api import ApiRequest, ScriptedApi, UnmatchedRequests, after_tool

MODEL = "claude-scripted-1"

ECHO_SERVER = '''
from mcp.server.mcpserver import MCPServer

server = MCPServer("echo")


@server.tool(structured_output=False)
def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


@server.tool(structured_output=False)
def secret(text: str) -> str:
    """A tool no rule allows."""
    return "the secret"


server.run("stdio")
'''


class Recorder:
    """The callbacks of one driver, kept for assertions."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []

    async def on_event(self, line: dict[str, Any]) -> None:
        self.events.append(line)

    async def on_stderr(self, text: str) -> None:
        self.stderr.append(text)

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as running:
        yield running


@pytest.fixture
def echo_server(tmp_path: Path) -> list[str]:
    path = tmp_path / "echo_server.py"
    path.write_text(ECHO_SERVER)
    return [sys.executable, str(path)]


def brain(**changes: Any) -> BrainConfig:
    base = BrainConfig(model=MODEL, system_prompt="You are t1, a test agent.", allowed_tools=["Read"],
                       mcp_servers={}, hyperhive_mcp_command=[], env={})
    return replace(base, **changes)


def driver_for(claude_bin: str, state: Path, env: dict[str, str], the_brain: BrainConfig | None = None,
               **extra_env: str) -> ClaudeDriver:
    base_env = {"PATH": os.environ["PATH"], "HOME": str(state), "CLAUDE_CODE_MAX_RETRIES": "0", **env, **extra_env}
    return ClaudeDriver(Path(claude_bin), state, the_brain or brain(), base_env)


@pytest.fixture
def driver(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> ClaudeDriver:
    return driver_for(claude_bin, tmp_path / "state", api.env())


async def turn(driver: ClaudeDriver, prompt: str, session_id: str | None = None,
               rec: Recorder | None = None, **kw: Any) -> TurnOutcome:
    rec = rec or Recorder()
    return await driver.run_turn(prompt, session_id=session_id, on_event=rec.on_event, on_stderr=rec.on_stderr,
                                 **kw)


async def wait_request(api: ScriptedApi, predicate: Any = None, after: int = 0) -> ApiRequest:
    return await asyncio.to_thread(api.wait_for_request, predicate, 20.0, after=after)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# --- files ---------------------------------------------------------------------------------------------

def test_files_hold_prompt_permissions_and_servers(tmp_path: Path, echo_server: list[str]) -> None:
    the_brain = brain(allowed_tools=["mcp__hyperhive", "Bash(git *)"], hyperhive_mcp_command=["hive-ag3nt", "mcp"],
                      mcp_servers={"t": {"command": echo_server[0], "args": echo_server[1:], "env": {"A": "1"}},
                                   "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}})
    files = ClaudeFiles(tmp_path, the_brain)
    files.write()
    assert files.system_prompt.read_text() == "You are t1, a test agent."
    settings = json.loads(files.settings.read_text())
    assert settings["permissions"] == {"allow": ["mcp__hyperhive", "Bash(git *)"]}
    assert settings["cleanupPeriodDays"] >= 3650
    assert json.loads(files.mcp.read_text()) == {"mcpServers": {
        "hyperhive": {"type": "stdio", "command": "hive-ag3nt", "args": ["mcp"],
                      "env": {"HYPERHIVE_TURN_LEDGER": str(files.turn_ledger)}},
        "t": {"type": "stdio", "command": echo_server[0], "args": echo_server[1:], "env": {"A": "1"}},
        "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}


def test_files_are_rewritten_only_when_they_differ(tmp_path: Path) -> None:
    files = ClaudeFiles(tmp_path, brain())
    files.write()
    before = {p: p.stat().st_mtime_ns for p in (files.system_prompt, files.settings, files.mcp)}
    time.sleep(0.01)
    files.write()
    assert before == {p: p.stat().st_mtime_ns for p in before}
    files.settings.write_text('{"permissions": {"allow": ["Bash"]}}')  # the agent widening its own rules
    files.write()
    assert json.loads(files.settings.read_text())["permissions"]["allow"] == ["Read"]


def test_the_hyperhive_server_name_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        ClaudeFiles(tmp_path, brain(mcp_servers={"hyperhive": {"command": "x"}})).write()


def test_env_keeps_sessions_in_the_state_dir(tmp_path: Path) -> None:
    the_brain = brain(env={"CLAUDE_CONFIG_DIR": "/elsewhere", "ENABLE_TOOL_SEARCH": "true"})
    driver = ClaudeDriver(Path("claude"), tmp_path, the_brain, {"ANTHROPIC_API_KEY": "k", "PATH": "/bin"})
    assert driver.env["CLAUDE_CONFIG_DIR"] == str(tmp_path / ".claude")
    assert driver.env["ENABLE_TOOL_SEARCH"] == "true"  # the agent's config may choose
    assert driver.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    argv = driver.command("abc", None)
    assert argv[argv.index("--model") + 1] == MODEL and argv[argv.index("--resume") + 1] == "abc"
    assert "--strict-mcp-config" in argv and "--tools" not in argv


# --- turns ---------------------------------------------------------------------------------------------

@pytest.mark.claude
async def test_a_text_turn_reports_session_stats_and_every_line(driver: ClaudeDriver, api: ScriptedApi) -> None:
    api.on("hello", reply.text("hi there", input_tokens=123, output_tokens=45, cache_read_tokens=7,
                               cache_creation_tokens=3))
    rec = Recorder()
    outcome = await turn(driver, "hello", rec=rec)
    assert outcome.kind == "ok", outcome
    assert outcome.note == "hi there"
    assert outcome.session_id and uuid.UUID(outcome.session_id)
    stats = outcome.stats
    assert (stats.input_tokens, stats.output_tokens, stats.cache_read_tokens, stats.cache_creation_tokens) == \
        (123, 45, 7, 3)
    assert stats.model == MODEL and stats.num_turns == 1 and stats.tool_calls == 0
    assert stats.result_kind == "success" and stats.terminal_reason == "completed"
    assert stats.cost_usd > 0 and stats.duration_ms > 0 and stats.wall_ms >= stats.duration_ms
    assert rec.types == ["system", "assistant", "result"]
    assert rec.events[0]["subtype"] == "init" and rec.events[-1]["result"] == "hi there"
    assert {e["session_id"] for e in rec.events} == {outcome.session_id}
    request = api.message_requests[0]
    assert request.model == MODEL and "You are t1, a test agent." in json.dumps(request.body["system"])
    assert not driver.running() and driver.pid is None


@pytest.mark.claude
async def test_the_next_turn_resumes_the_session(driver: ClaudeDriver, api: ScriptedApi) -> None:
    api.on("first", reply.text("answer one"))
    api.on("second", reply.text("answer two"))
    one = await turn(driver, "first question")
    two = await turn(driver, "second question", one.session_id)
    assert two.kind == "ok" and two.session_id == one.session_id
    history = api.message_requests[-1]
    assert "first question" in history.all_text and "answer one" in history.all_text
    assert history.last_user_text.endswith("second question")


@pytest.mark.claude
async def test_a_changed_system_prompt_reaches_a_resumed_session(claude_bin: str, tmp_path: Path,
                                                                 api: ScriptedApi) -> None:
    """The CLI snapshots the system prompt of a session's first turn unless told not to."""
    api.on("hi", reply.text("hello"))
    one = await turn(driver_for(claude_bin, tmp_path, api.env(), brain(system_prompt="PROMPT-ONE")), "hi")
    await turn(driver_for(claude_bin, tmp_path, api.env(), brain(system_prompt="PROMPT-TWO")), "hi", one.session_id)
    first, second = (json.dumps(r.body["system"]) for r in api.message_requests)
    assert "PROMPT-ONE" in first and "PROMPT-TWO" in second and "PROMPT-ONE" not in second


@pytest.mark.claude
async def test_mcp_tools_are_called_counted_and_denied_without_a_rule(claude_bin: str, tmp_path: Path,
                                                                      api: ScriptedApi, echo_server: list[str]) -> None:
    the_brain = brain(allowed_tools=["mcp__hyperhive", "mcp__t__echo"], hyperhive_mcp_command=echo_server,
                      mcp_servers={"t": {"command": echo_server[0], "args": echo_server[1:], "env": {}}}, tools=[])
    driver = driver_for(claude_bin, tmp_path, api.env(), the_brain)
    api.on("use the tools", reply.tool_use("mcp__t__echo", {"text": "ping"}))
    api.on(after_tool("mcp__t__echo"), reply.tool_use("mcp__hyperhive__echo", {"text": "hive"}))
    api.on(after_tool("mcp__hyperhive__echo"), reply.tool_use("mcp__t__secret", {"text": "x"}))
    api.on(after_tool("mcp__t__secret"), reply.text("all done"))
    outcome = await turn(driver, "use the tools")
    assert outcome.kind == "ok", outcome
    assert sorted(api.message_requests[0].tool_names) == ["mcp__hyperhive__echo", "mcp__hyperhive__secret",
                                                          "mcp__t__echo", "mcp__t__secret"]
    results = [r.tool_results[0] for r in api.message_requests[1:]]
    assert [(r.name, r.is_error) for r in results] == [("mcp__t__echo", False), ("mcp__hyperhive__echo", False),
                                                       ("mcp__t__secret", True)]
    assert "echo: ping" in json.dumps(results[0].content) and "echo: hive" in json.dumps(results[1].content)
    assert "the secret" not in json.dumps(results[2].content)
    stats = outcome.stats
    assert stats.tool_calls == 3 and stats.num_turns == 4
    assert stats.tool_breakdown == {"mcp__t__echo": 1, "mcp__hyperhive__echo": 1, "mcp__t__secret": 1}
    assert stats.permission_denials == ["mcp__t__secret"]
    assert stats.input_tokens == 400  # the result line sums every request of the turn


# --- failures ------------------------------------------------------------------------------------------

@pytest.mark.claude
@pytest.mark.parametrize(("answer", "kind", "words"), [
    (reply.auth_failed(), "auth_failed", "Invalid API key"),
    (reply.prompt_too_long(), "prompt_too_long", "Prompt is too long"),
    (reply.server_error(), "error", "500"),
    (reply.rate_limited(), "rate_limited", "429"),
], ids=["401", "prompt-too-long", "500", "429-no-retry-after"])
async def test_api_errors_are_classified(driver: ClaudeDriver, api: ScriptedApi, answer: reply.Reply, kind: str,
                                         words: str) -> None:
    api.script(answer)
    outcome = await turn(driver, "hello")
    assert (outcome.kind, outcome.retry_after) == (kind, None), outcome
    assert words in outcome.note and outcome.session_id


@pytest.mark.claude
async def test_no_credentials_at_all_is_auth_failed(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    driver = driver_for(claude_bin, tmp_path, api.env(), ANTHROPIC_API_KEY="")
    outcome = await turn(driver, "hello")
    assert outcome.kind == "auth_failed" and "/login" in outcome.note
    assert api.message_requests == []


@pytest.mark.claude
async def test_retry_after_comes_from_the_clis_own_back_off(claude_bin: str, tmp_path: Path,
                                                            api: ScriptedApi) -> None:
    """With an API key the CLI prints no header; it does print how long it waited before its own retry, and
    that follows retry-after. (With CLAUDE_CODE_MAX_RETRIES=0 nothing reaches the output: None.)"""
    driver = driver_for(claude_bin, tmp_path, api.env(), CLAUDE_CODE_MAX_RETRIES="1")
    api.script(reply.rate_limited(retry_after=1), reply.rate_limited(retry_after=1))
    outcome = await turn(driver, "hello")
    assert outcome.kind == "rate_limited" and outcome.retry_after is not None
    assert 1.0 <= outcome.retry_after < 2.0
    assert len(api.message_requests) == 2


@pytest.mark.claude
async def test_a_subscription_limit_gives_its_reset_time(claude_bin: str, tmp_path: Path, api: ScriptedApi) -> None:
    driver = driver_for(claude_bin, tmp_path, api.env(oauth=True))
    api.script(reply.usage_limited(reset_in=3600))
    rec = Recorder()
    outcome = await turn(driver, "hello", rec=rec)
    assert outcome.kind == "rate_limited" and "limit" in outcome.note
    assert outcome.retry_after is not None and 3590 < outcome.retry_after <= 3600
    assert "rate_limit_event" in rec.types


@pytest.mark.claude
async def test_interrupt_ends_a_held_turn_quickly_and_the_session_resumes(driver: ClaudeDriver,
                                                                          api: ScriptedApi) -> None:
    held = threading.Event()
    api.script(reply.hang(held))
    running = asyncio.create_task(turn(driver, "take your time"))
    await wait_request(api)
    pgid = driver.pid
    assert driver.running() and pgid is not None
    with pytest.raises(RuntimeError, match="already running"):
        await turn(driver, "a second turn at once")
    started = time.monotonic()
    await driver.interrupt()
    took = time.monotonic() - started
    outcome = await running
    assert outcome.kind == "interrupted", outcome
    assert took < 1.0, f"interrupt took {took:.2f} s"
    assert group_gone(pgid) and not driver.running()
    await driver.interrupt()  # idle: nothing to do
    held.set()
    api.on("are you there?", reply.text("yes"))
    again = await turn(driver, "are you there?", outcome.session_id)
    assert again.kind == "ok" and again.session_id == outcome.session_id
    assert "take your time" in api.message_requests[-1].all_text


@pytest.mark.claude
async def test_a_killed_cli_is_crashed(driver: ClaudeDriver, api: ScriptedApi) -> None:
    api.script(reply.hang(threading.Event()))
    running = asyncio.create_task(turn(driver, "hello"))
    await wait_request(api)
    assert driver.pid is not None
    os.kill(driver.pid, signal.SIGKILL)
    outcome = await running
    assert outcome.kind == "crashed" and "SIGKILL" in outcome.note, outcome
    assert outcome.session_id  # the init line named it: the next turn resumes it


@pytest.mark.claude
async def test_a_cancelled_turn_leaves_no_process(driver: ClaudeDriver, api: ScriptedApi,
                                                  echo_server: list[str]) -> None:
    driver.brain = brain(hyperhive_mcp_command=echo_server)  # a child of the CLI, in its group
    driver.files = ClaudeFiles(driver.state_dir, driver.brain)
    api.script(reply.hang(threading.Event()))
    running = asyncio.create_task(turn(driver, "hello"))
    await wait_request(api)
    pgid = driver.pid
    assert pgid is not None
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert group_gone(pgid) and not driver.running()


@pytest.mark.claude
async def test_a_failing_callback_stops_the_cli_and_reaches_the_caller(driver: ClaudeDriver,
                                                                       api: ScriptedApi) -> None:
    pids: list[int] = []

    async def explode(line: dict[str, Any]) -> None:
        assert driver.pid is not None
        pids.append(driver.pid)
        raise LookupError("the hive is gone")

    api.script(reply.hang(threading.Event()))
    with pytest.raises(LookupError, match="the hive is gone"):
        await driver.run_turn("hello", session_id=None, on_event=explode, on_stderr=Recorder().on_stderr)
    assert pids and group_gone(pids[0]) and not driver.running()


def test_crash_notes_name_the_signal_and_the_stderr_tail() -> None:
    record = TurnRecord("m")
    outcome = record.outcome(-9, ["boom", "last words"], None, "s1", 10)
    assert (outcome.kind, outcome.session_id) == ("crashed", "s1")
    assert "SIGKILL" in outcome.note and "last words" in outcome.note
    assert "exited with code 3" in record.outcome(3, [], None, None, 1).note
    assert record.outcome(1, ["Invalid API key · Please run /login"], None, None, 1).kind == "auth_failed"


@pytest.mark.claude
async def test_a_turn_past_its_timeout_is_stopped(driver: ClaudeDriver, api: ScriptedApi) -> None:
    api.script(reply.hang(threading.Event()))
    outcome = await turn(driver, "hello", timeout=2.0)
    assert outcome.kind == "timeout"  # the API never answers: only the stop can have ended this turn
    # The CLI prints its session id before it calls the API, and the driver reads stdout to its end: once the
    # request reached the API, the stopped turn must keep that session. On a machine so loaded that the CLI had
    # not started within the timeout there is no session yet, and none to keep.
    if api.message_requests:
        assert outcome.session_id


@pytest.mark.claude
async def test_a_lost_session_starts_a_new_one(driver: ClaudeDriver, api: ScriptedApi) -> None:
    gone = str(uuid.uuid4())
    api.on("hello", reply.text("a fresh start"))
    rec = Recorder()
    outcome = await turn(driver, "hello", gone, rec=rec)
    assert outcome.kind == "ok" and outcome.session_id not in (None, gone)
    assert any("starting a new session" in line for line in rec.stderr)
    assert api.message_requests[0].last_user_text.endswith("hello")


@pytest.mark.claude
async def test_compact_summarises_the_session_in_place(driver: ClaudeDriver, api: ScriptedApi) -> None:
    api.on("first", reply.text("answer one"))
    one = await turn(driver, "first question")
    before = len(api.message_requests)
    api.script(reply.text("<summary>THE SUMMARY</summary>"), reply.text("<summary>THE SUMMARY</summary>"))
    compacted = await driver.compact(one.session_id or "")
    assert compacted.kind == "ok" and compacted.session_id == one.session_id, compacted
    assert len(api.message_requests) > before
    api.on("next", reply.text("fine"))
    after = await turn(driver, "next question", one.session_id)
    assert after.kind == "ok"
    history = api.message_requests[-1].all_text
    assert "THE SUMMARY" in history and "first question" not in history


@pytest.mark.claude
async def test_the_api_over_a_unix_socket(claude_bin: str, short_tmp: Path) -> None:
    with ScriptedApi(unix_socket=short_tmp / "api.sock") as api:
        api.on("hello", reply.text("over the socket"))
        outcome = await turn(driver_for(claude_bin, short_tmp / "state", api.unix_env()), "hello")
    assert outcome.kind == "ok" and outcome.note == "over the socket"


# --- the scripted API itself (the paths the CLI does not take) -----------------------------------------

def post(api: ScriptedApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{api.base_url}/v1/messages", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: close it here, not in some later test's garbage collection
            return exc.code, json.loads(exc.read())


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}, {"role": "system", "content": "env"}]}


def test_scripted_api_rules_scripts_and_the_default() -> None:
    with ScriptedApi(default=reply.text("ok")) as api:
        api.on("twice", reply.text("a"), reply.text("b"))  # the last reply sticks
        api.on("once", reply.text("only"), repeat=False)
        texts = [post(api, user(t))[1]["content"][0]["text"] for t in ("twice", "twice", "twice", "once", "once")]
        assert texts == ["a", "b", "b", "only", "ok"]
        api.script(reply.rate_limited(retry_after=3))
        status, body = post(api, user("twice"))
        assert status == 429 and body["error"]["type"] == "rate_limit_error"
        assert [r.last_user_text for r in api.message_requests][-1] == "twice"  # matched past the system block


def test_the_scripted_api_fails_the_test_on_an_unmatched_request_or_path() -> None:
    api = ScriptedApi().start()
    api.on("known", reply.text("fine"))
    assert post(api, user("known"))[0] == 200
    status, body = post(api, user("something the script never expected"))
    assert status == 400 and "no rule" in body["error"]["message"]  # an error the CLI does not retry
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{api.base_url}/v1/models", timeout=10)
    unknown.value.close()
    assert unknown.value.code == 404
    with pytest.raises(UnmatchedRequests) as failed:
        api.close()
    message = str(failed.value)
    assert "2 request(s)" in message and "something the script never expected" in message
    assert "GET /v1/models" in message and "known" not in message.replace("unknown", "")


def test_scripted_api_json_answer_carries_tool_calls_and_usage(api: ScriptedApi) -> None:
    api.script(reply.tool_use("mcp__t__echo", {"text": "x"}, text="calling", input_tokens=9))
    status, body = post(api, user("go"))
    assert status == 200 and body["stop_reason"] == "tool_use" and body["usage"]["input_tokens"] == 9
    assert [b["type"] for b in body["content"]] == ["text", "tool_use"]
    assert body["content"][1]["name"] == "mcp__t__echo" and body["content"][1]["input"] == {"text": "x"}


def test_every_outcome_kind_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "claude-driver.md").read_text()
    for kind in get_args(OutcomeKind):
        assert f"| `{kind}` |" in text, f"{kind} is not in docs/claude-driver.md"
