"""Told when it matters (issue 18): a webhook receiver on loopback gets each kind of notification once —
a question to the operator, an approval waiting, needs_login, a failed agent, a spent budget, mail to the
operator — ntfy's way (text body, Title and Priority headers), a failed delivery retried with back-off."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hyperhive.core.hive import Hive
from hyperhive.gateway.usage import Usage
from tests.support.agents import add_agent

KINDS = {"question", "approval", "needs_login", "failed", "budget_exhausted", "mail"}


class Receiver(ThreadingHTTPServer):
    """Answers the first POST with 500 (so it must be retried), then 200; records what it accepted."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted: list[dict[str, Any]] = []
        self.attempts = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hive"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        with self.server.lock:
            self.server.attempts += 1
            ok = self.server.attempts > 1
            if ok:
                self.server.accepted.append({"kind": self.headers["Tags"], "title": self.headers["Title"],
                                             "priority": self.headers["Priority"], "body": body})
        self.send_response(200 if ok else 500)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_a_webhook_gets_each_kind_once(hive: Hive, receiver: Receiver) -> None:
    (hive.settings.state_dir / "host.toml").write_text(
        f'[notify]\nwebhooks = ["{receiver.url}"]\nretry_seconds = 0.05\n\n[budget]\ndaily_tokens = 10\n')
    alice = await add_agent(hive, "alice")
    await alice.request("ask", question="Deploy on Friday?", options=["yes", "no"])
    await alice.request("request_schedule_prompt", targets=["alice"], body="tick", first_fire_at=time.time() + 3600)
    await alice.request("harness_state", activity="needs_login", needs_login=True, detail="run /login")
    await hive.notify("agent_failed", "alice", {"reason": "crashed three times in a minute"})
    hive.gateway.spend.record("alice", "claude-haiku-4-5", Usage(input_tokens=50))
    await alice.request("send", to="operator", body="The report is ready.")

    await hive.gateway.spend.settle()  # the budget check after the call, which notifies
    await asyncio.wait_for(hive.notifier.settle(), 20)  # every delivery done, retries included
    kinds = sorted(n["kind"] for n in receiver.accepted)
    assert kinds == sorted(KINDS)  # each once, the first one after a retry
    assert receiver.attempts == len(KINDS) + 1
    by_kind = {n["kind"]: n for n in receiver.accepted}
    assert by_kind["mail"] == {"kind": "mail", "title": "mail from alice", "priority": "3",
                               "body": "The report is ready."}
    assert by_kind["question"]["body"] == "Deploy on Friday?" and by_kind["failed"]["priority"] == "5"
    assert "daily_tokens (10) is spent" in by_kind["budget_exhausted"]["body"]
    stored = await hive.store.events_after(0, kinds=["notification"])
    assert sorted(e.payload["kind"] for e in stored) == sorted(KINDS)  # what the dashboard shows
    await alice.close()
