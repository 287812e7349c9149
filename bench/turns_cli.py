"""Claude Code turns benchmark: the pinned CLI (real) against the scripted Messages API on 127.0.0.1.

Prints, per run, the median wall time of a text turn with no MCP server, of a text turn with the hyperhive
MCP server (`hive-ag3nt mcp` on a real hive-c0re's socket, as an agent's brain runs it), of a turn that calls
a hyperhive tool (`whoami`) and ends, and of `interrupt()` from the call until a held turn has ended; then the
same text turn and interrupt on a resident CLI (agent/resident.py: one process fed every turn of a session).

    .venv/bin/python bench/turns_cli.py [--turns N] [--runs N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, header, parser, report
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess
from tests.support.scripted_api import ScriptedApi, after_tool

from hyperhive.agent.claude_driver import ClaudeDriver
from hyperhive.agent.claude_files import BrainConfig
from hyperhive.agent.resident import ResidentDriver

CLAUDE = Path(os.environ.get("HYPERHIVE_CLAUDE") or ROOT / ".tools/claude/node_modules/.bin/claude")
WHOAMI = "mcp__hyperhive__whoami"


async def ignore(_: Any) -> None:
    return None


def driver(state: Path, api: ScriptedApi, mcp: list[str], kind: type[ClaudeDriver] = ClaudeDriver) -> ClaudeDriver:
    brain = BrainConfig(model="claude-scripted-1", system_prompt="You are a benchmark agent.",
                        allowed_tools=["mcp__hyperhive"], mcp_servers={}, hyperhive_mcp_command=mcp, tools=[])
    env = {"PATH": os.environ["PATH"], "HOME": str(state), "CLAUDE_CODE_MAX_RETRIES": "0", **api.env()}
    return kind(CLAUDE, state, brain, env)


async def timed_turns(the_driver: ClaudeDriver, prompt: str, count: int) -> list[float]:
    """A resident driver's turns go on one session (its CLI is kept); the first starts it and is not counted."""
    samples, session = [], None
    resident = isinstance(the_driver, ResidentDriver)
    if resident:
        session = (await the_driver.run_turn(prompt, session_id=None, on_event=ignore, on_stderr=ignore)).session_id
    for _ in range(count):
        started = time.perf_counter()
        outcome = await the_driver.run_turn(prompt, session_id=session, on_event=ignore, on_stderr=ignore)
        samples.append(time.perf_counter() - started)
        assert outcome.kind == "ok", outcome
    return samples


async def interrupts(the_driver: ClaudeDriver, api: ScriptedApi, count: int) -> list[float]:
    samples, session = [], None
    if isinstance(the_driver, ResidentDriver):
        session = (await the_driver.run_turn("say hi", session_id=None, on_event=ignore,
                                             on_stderr=ignore)).session_id
    for _ in range(count):
        held = threading.Event()
        before = len(api.message_requests)
        api.script(reply.hang(held))
        running = asyncio.create_task(the_driver.run_turn("hold on", session_id=session, on_event=ignore,
                                                          on_stderr=ignore))
        await asyncio.to_thread(api.wait_for_request, None, 60.0, after=before)  # the turn is in the API call
        started = time.perf_counter()
        await the_driver.interrupt()
        outcome = await running
        samples.append(time.perf_counter() - started)
        held.set()
        assert outcome.kind == "interrupted", outcome
    return samples


async def one_run(root: Path, turns: int) -> dict[str, float]:
    hive = HiveProcess(root / "hive")
    hive.log_level = "WARNING"
    (root / "hive").mkdir()
    hive.start()
    try:
        hive.host.request("register_peer", name="bench")
        mcp = [sys.executable, "-m", "hyperhive.cli.ag3nt", "mcp", "--socket", str(hive.agent_socket("bench"))]
        with ScriptedApi() as api:
            api.on("say hi", reply.text("hi"))
            api.on("who are you", reply.tool_use(WHOAMI, {}))
            api.on(after_tool(WHOAMI), reply.text("I am bench"))
            plain = driver(root / "plain", api, [])
            with_mcp = driver(root / "mcp", api, mcp)
            kept = driver(root / "resident", api, [], ResidentDriver)
            try:
                resident = {"text turn, resident CLI": statistics.median(await timed_turns(kept, "say hi", turns)),
                            "interrupt, resident CLI": statistics.median(await interrupts(kept, api, turns))}
            finally:
                await kept.close()
            return resident | {
                "text turn, no MCP": statistics.median(await timed_turns(plain, "say hi", turns)),
                "text turn, hyperhive MCP": statistics.median(await timed_turns(with_mcp, "say hi", turns)),
                "turn calling a hyperhive tool": statistics.median(await timed_turns(with_mcp, "who are you", turns)),
                "interrupt, no MCP": statistics.median(await interrupts(plain, api, turns)),
                "interrupt, hyperhive MCP": statistics.median(await interrupts(with_mcp, api, turns)),
            }
    finally:
        hive.stop()


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--turns", type=int, default=5, help="turns of each kind per run (their median)")
    args = args_parser.parse_args()
    version = os.popen(f"{CLAUDE} --version").read().strip()
    header(f"Claude Code turns: CLI {version}, scripted API on 127.0.0.1, {args.turns} turns of each kind per run")
    runs = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hhb-", dir="/tmp") as root:
            runs.append(asyncio.run(one_run(Path(root), args.turns)))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.3f} s" for k, v in runs[-1].items()), flush=True)
    report(runs, lambda _, v: f"{v * 1000:.0f} ms")


if __name__ == "__main__":
    main()
