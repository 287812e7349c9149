"""Turns benchmark: what the hive adds to a Claude Code turn, against the scripted Messages API answering at once.

A real hive-c0re on the bwrap runtime (private network, the API through a Unix socket), agents running
`hive-ag3nt run` on the real pinned CLI. For each run the operator sends one message and the figures come from
the daemon's own timestamps (stored, acked): nothing here is polled on a timer — after each status change the
agent's status stream pushes, the bench asks whether the message is acked yet.

- text turn: mail stored → acked (the turn ended); one-tool turn: mail stored → the agent's reply (a `send` to
  the operator) stored, and → acked. The hive's share is that time minus the API's, estimated as the number of
  API requests the turn made times the scripted API's own round trip (measured here, p50).
- cold: the first turn after the agent (re)started; warm: the turns after it.
- relay: operator → a → b → operator, until b's reply is stored.
- send → reply: from the bench's `send` request (what `hivectl send` makes) until the reply is stored; and from
  starting the real `hivectl send` command until the reply is stored.
- memory: PSS summed over the agent's keeper, bwrap, harness and any resident process (the CLI during a turn,
  and after it while a resident CLI is kept; then again once it was let go after `--idle` seconds).

    .venv/bin/python bench/turns.py [--runs 10] [--mode resident|per-turn] [--idle 10]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import api_replies as reply
from tests.support.hive import HiveProcess
from tests.support.scripted_api import ScriptedApi, after_tool, hive_notice

from hyperhive.client import AsyncSocketClient, stream
from hyperhive.runtime import _proc
from hyperhive.runtime._files import KeeperFiles, read_json
from hyperhive.runtime.bwrap import BwrapRuntime
from hyperhive.runtime.local import LocalConfig

ROOT = Path(__file__).resolve().parent.parent
SEND = "mcp__hyperhive__send"
AGENT_TOML = """name = "{name}"
description = "a benchmark agent"
role = "agent"
model = "claude-scripted-1"
allowed_recipients = {recipients}
network = "private"
"""


class Status:
    """The pushed status rows; `until(check)` re-checks after every change (and once at once)."""

    def __init__(self, hive: HiveProcess) -> None:
        self.hive = hive
        self.rows: dict[str, dict[str, Any]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        subscribed = asyncio.Event()

        async def follow() -> None:
            async for line in stream(self.hive.settings.host_socket, "subscribe_agent_status"):
                subscribed.set()
                for row in line.get("agent_statuses", []):
                    self.rows[row["name"]] = row
                self._changed.set()

        self._task = asyncio.create_task(follow())
        await subscribed.wait()

    async def until(self, check: Callable[[], Any], timeout: float = 120) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if found := await check():
                    return found
                await self._changed.wait()

    def idle(self, name: str, since: float) -> bool:
        row = self.rows.get(name) or {}
        seen = row.get("last_seen")
        fresh = seen is not None and datetime.fromisoformat(seen).timestamp() >= since - 0.001
        return bool(row.get("state") == "running" and row.get("activity") == "idle" and fresh)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Bench:
    def __init__(self, hive: HiveProcess, api: ScriptedApi) -> None:
        self.hive = hive
        self.api = api
        self.client = AsyncSocketClient(hive.settings.host_socket)
        self.status = Status(hive)
        self.sent_at = 0.0

    async def ready(self, name: str, since: float) -> None:
        async def check() -> bool:
            return self.status.idle(name, since)

        await self.status.until(check)

    async def message(self, message_id: int) -> dict[str, Any] | None:
        found = (await self.client.request("recent", limit=50))["messages"]
        return next((m for m in found if m["id"] == message_id), None)

    async def turn(self, to: str, body: str,
                   reply_from: str | None) -> tuple[dict[str, Any], dict[str, Any] | None, int]:
        """Send; wait until acked (and the reply stored); (the mail, the reply, API requests it took)."""
        before = len(self.api.requests)
        self.sent_at = time.time()
        sent = await self.client.request("send", to=to, body=body)

        async def check() -> tuple[dict[str, Any], dict[str, Any] | None] | None:
            mail = await self.message(sent["id"])
            if mail is None or not mail["acked_at"]:
                return None
            if reply_from is None:
                return mail, None
            inbox = (await self.client.request("inbox", limit=20))["messages"]
            answer = next((m for m in inbox if m["sender"] == reply_from and body in m["body"]), None)
            return (mail, answer) if answer else None

        mail, answer = await self.status.until(check)
        return mail, answer, len(self.api.requests) - before

    async def hivectl_turn(self, body: str) -> float:
        """`hivectl send a BODY` (the real command, its start included) until a's reply is stored: seconds."""
        started = time.time()
        proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "hivectl"), "send", "a", body,
                                                    env=self.hive.env, stdout=subprocess.DEVNULL)
        assert await proc.wait() == 0

        async def check() -> dict[str, Any] | None:
            inbox = (await self.client.request("inbox", limit=20))["messages"]
            return next((m for m in inbox if m["sender"] == "a" and body in m["body"]), None)

        answer = await self.status.until(check)
        return _ts(answer["sent_at"]) - started

    async def restart(self, name: str) -> None:
        since = time.time()
        await self.client.request("restart", name=name)
        await self.ready(name, since)


def _ts(value: Any) -> float:
    return value if isinstance(value, float | int) else datetime.fromisoformat(str(value)).timestamp()


def api_round_trip(api: ScriptedApi, samples: int = 30) -> float:
    """The scripted API's own answer time for a streamed message, seconds (p50)."""
    assert api.unix_socket is not None
    took = []
    for _ in range(samples):
        conn = http.client.HTTPConnection("scripted-api")
        conn.sock = socket.socket(socket.AF_UNIX)
        conn.sock.connect(str(api.unix_socket))
        started = time.perf_counter()
        conn.request("POST", "/v1/messages", body=b'{"model":"claude-scripted-1","stream":true,"max_tokens":8,'
                     b'"messages":[{"role":"user","content":"ROUNDTRIP"}]}',
                     headers={"content-type": "application/json", "x-api-key": "sk-ant-test"})
        conn.getresponse().read()
        took.append(time.perf_counter() - started)
        conn.close()
    return statistics.median(took)


def _tree(hive: HiveProcess, name: str) -> list[int]:
    state = read_json(KeeperFiles(hive.settings.runtime_dir / "sandboxes" / name).keeper) or {}
    found, todo = [], [int(state.get("keeper_pid", 0))]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += _proc.children(pid)
    return found


async def _exited(pid: int) -> None:
    """Until the process is gone (its pidfd turns readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    gone = asyncio.Event()
    asyncio.get_running_loop().add_reader(fd, gone.set)
    try:
        await asyncio.wait_for(gone.wait(), 600)
    finally:
        asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)


def pss_of(hive: HiveProcess, name: str) -> tuple[float, dict[str, float]]:
    total, by_role = 0.0, defaultdict(float)
    for pid in _tree(hive, name):
        kb = _pss_kb(pid)
        total += kb / 1024
        by_role[_role(pid)] += kb / 1024
    return total, dict(by_role)


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    argv0 = Path(cmdline.split(b"\0", 1)[0].decode(errors="replace")).name
    if argv0 == "bwrap":
        return "bwrap"
    if b"hyperhive.runtime.keeper" in cmdline:
        return "keeper"
    if b"hyperhive.cli.ag3nt" in cmdline:
        return "hive-ag3nt mcp" if b" mcp" in cmdline.replace(b"\0", b" ") else "harness"
    return "claude" if b"claude" in cmdline else argv0


def _parts(parts: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in sorted(parts.items()) if v)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, values: list[float]) -> None:
    print(f"  {label:<44} p50 {statistics.median(values) * 1e3:7.1f} ms   p95 {pct(values, 0.95) * 1e3:7.1f} ms"
          f"   (n={len(values)})")


async def run(hive: HiveProcess, api: ScriptedApi, runs: int) -> None:
    bench = Bench(hive, api)
    await bench.status.start()
    rt = api_round_trip(api)
    print(f"scripted API round trip (one streamed message): p50 {rt * 1e3:.1f} ms")
    since = time.time()
    await bench.client.request("spawn", name="a", config=AGENT_TOML.format(name="a", recipients='["b"]'))
    await bench.client.request("spawn", name="b", config=AGENT_TOML.format(name="b", recipients="[]"))
    await bench.ready("a", since)
    await bench.ready("b", since)
    figures: dict[str, list[float]] = defaultdict(list)

    async def one(kind: str, n: int) -> None:
        body = f"{kind.upper()} run {n} {time.time()}"
        mail, answer, requests = await bench.turn("a", body, "a" if kind == "tool" else None)
        stored, acked = _ts(mail["sent_at"]), _ts(mail["acked_at"])
        temp = "cold" if cold else "warm"
        if answer is not None:
            figures[f"{kind} {temp}: mail → reply stored"].append(_ts(answer["sent_at"]) - stored)
            figures[f"{kind} {temp}: send request → reply stored"].append(_ts(answer["sent_at"]) - bench.sent_at)
            figures[f"{kind} {temp}: hive share (→ reply, minus API)"].append(
                _ts(answer["sent_at"]) - stored - (requests - 1) * rt)
        figures[f"{kind} {temp}: mail → acked"].append(acked - stored)
        figures[f"{kind} {temp}: hive share (→ acked, minus API)"].append(acked - stored - requests * rt)

    for n in range(runs):
        for kind in ("text", "tool"):
            cold = True
            await bench.restart("a")
            await one(kind, n)
            cold = False
            await one(kind, n)
            await one(kind, n)
    for n in range(runs):
        body = f"RELAY run {n} {time.time()}"
        mail, answer, _ = await bench.turn("a", body, "b")
        assert answer is not None
        figures["relay operator → a → b → operator"].append(_ts(answer["sent_at"]) - _ts(mail["sent_at"]))
    for n in range(runs):
        figures["tool warm: `hivectl send` → reply stored"].append(
            await bench.hivectl_turn(f"TOOL run {n} hivectl {time.time()}"))
    for label, values in figures.items():
        line(label, values)

    idle, parts = pss_of(hive, "a")
    print(f"idle agent after its turns: PSS {idle:.1f} MB ({_parts(parts)})")
    for pid in [p for p in _tree(hive, "a") if _role(p) == "claude"]:
        await _exited(pid)  # a resident CLI, let go after its idle time
        idle, parts = pss_of(hive, "a")
        print(f"idle agent once its CLI was let go: PSS {idle:.1f} MB ({_parts(parts)})")
    release = threading.Event()
    api.on("HOLD", reply.hang(release, reply.text("held")))
    sent = await bench.client.request("send", to="a", body="HOLD please")
    await asyncio.to_thread(api.wait_for_request, lambda r: "HOLD" in r.last_user_text, 60)
    busy, parts = pss_of(hive, "a")
    print(f"agent during a turn: PSS {busy:.1f} MB ({_parts(parts)})")
    release.set()

    async def acked() -> bool:
        mail = await bench.message(sent["id"])
        return bool(mail and mail["acked_at"])

    await bench.status.until(acked)
    await bench.client.request("stop", all=True)
    await bench.client.close()
    await bench.status.close()


def script(api: ScriptedApi) -> None:
    api.on(after_tool(SEND), reply.text("done"))
    api.on("ROUNDTRIP", reply.text("pong"))
    api.on(hive_notice, reply.text("noted"))  # the note a restarted agent gets: a turn of its own
    api.on("TEXT run", reply.text("ok"))
    api.on("TOOL run", lambda r: reply.tool_use(SEND, {"to": "operator", "body": "re: " + _body(r)}))
    api.on("RELAY-B", lambda r: reply.tool_use(SEND, {"to": "operator", "body": "re: " + _body(r)}))
    api.on("RELAY run", lambda r: reply.tool_use(SEND, {"to": "b", "body": "RELAY-B " + _body(r)}))


def _body(req: Any) -> str:
    text = str(req.last_user_text)
    start = max(text.find(word) for word in ("TOOL run", "RELAY-B", "RELAY run"))
    return text[start:].strip().splitlines()[0]


async def destroy_all(runtime_dir: Path) -> None:
    runtime = BwrapRuntime(LocalConfig(runtime_dir))
    for handle in await runtime.handles():
        await runtime.adopt(handle)
        await runtime.destroy(handle, timeout=5)


def header() -> None:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {commit.strip()}{' (src modified)' if dirty else ''}; "
          f"nproc {os.cpu_count()}; {model}; loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--mode", choices=("resident", "per-turn"), default="resident",
                        help="the agents' Claude Code process: one kept across turns, or one per turn")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds a resident CLI is kept without a turn")
    parser.add_argument("--claude", default=os.environ.get("HYPERHIVE_CLAUDE",
                                                          str(ROOT / ".tools/claude/node_modules/.bin/claude")))
    args = parser.parse_args()
    header()
    print(f"agents' Claude Code process: {args.mode}" + (f", let go after {args.idle:g} s idle"
                                                          if args.mode == "resident" else ""))
    _proc.set_child_subreaper()
    with tempfile.TemporaryDirectory(prefix="hht-", dir="/tmp") as root:
        (Path(root) / "api").mkdir()
        with ScriptedApi(unix_socket=Path(root) / "api" / "api.sock") as api:
            script(api)
            env = {"HYPERHIVE_RUNTIME": "bwrap", "HYPERHIVE_CLAUDE": args.claude, "CLAUDE_CODE_MAX_RETRIES": "0",
                   "HYPERHIVE_CLAUDE_PROCESS": args.mode, "HYPERHIVE_CLAUDE_IDLE_SECONDS": str(args.idle),
                   **api.unix_env()}
            (Path(root) / "hive").mkdir()
            hive = HiveProcess(Path(root) / "hive", env=env)
            hive.log_level = "WARNING"
            hive.start()
            try:
                asyncio.run(run(hive, api, args.runs))
            finally:
                hive.stop()
                asyncio.run(destroy_all(hive.settings.runtime_dir))
        print(f"loadavg at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
