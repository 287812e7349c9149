"""Transcript items, turn statistics and reading events backwards."""

from __future__ import annotations

from hyperhive.core.hive import Hive
from hyperhive.core.turn_log import record_of
from hyperhive.store import EventRecord, NewEvent
from hyperhive.web.history import History
from hyperhive.web.stats import percentile, summarize
from hyperhive.web.transcript import event_items, tool_label

from . import transcript_lines as line


def test_tool_labels_say_what_the_call_does() -> None:
    assert tool_label("Read", {"file_path": "/etc/hosts"}) == "Read /etc/hosts"
    assert tool_label("Bash", {"command": "ls -la\n  | head"}) == "Bash $ ls -la | head"
    assert tool_label("mcp__hyperhive__send", {"to": "bob", "body": "hi"}) == "send → bob"
    assert tool_label("mcp__hyperhive__recv", {}) == "recv"
    assert tool_label("Grep", {"pattern": "TODO", "path": "src"}) == "Grep TODO in src"
    assert tool_label("mcp__github__create_issue", {"name": "x"}) == "github: create_issue x"
    assert tool_label("TodoWrite", {"todos": [{}, {}]}) == "TodoWrite (2 items)"
    assert len(tool_label("Bash", {"command": "x" * 500})) == 160


def test_stream_lines_become_items() -> None:
    read = line.tool_use("t1", "Read", file_path="a")
    items = event_items("turn.stream", line.assistant(line.text("Looking."), read))
    assert [i["type"] for i in items] == ["text", "tool"]
    assert items[1]["label"] == "Read a" and items[1]["id"] == "t1"
    long = event_items("turn.stream", line.tool_result("t1", "x\n" * 50, is_error=True))[0]
    assert long["type"] == "result" and long["long"] and long["is_error"] and long["tool_use_id"] == "t1"
    short = event_items("turn.stream", line.tool_result("t1", "ok"))[0]
    assert not short["long"]
    assert event_items("turn.stream", line.init())[0]["model"] == "claude-sonnet-4-5"
    assert event_items("turn.stream", line.result())[0]["cost_usd"] == 0.0123
    assert event_items("turn.stream", {"type": "stream_event"}) == []
    todo = event_items("turn.stream", line.assistant(line.tool_use("t2", "TodoWrite", todos=[{"content": "a"}])))
    assert todo[0]["todos"] == [{"content": "a"}]
    assert event_items("turn.turn_end", {"ok": False, "kind": "timeout"})[0] == \
        {"type": "turn_end", "ok": False, "kind": "timeout", "note": None}
    crash = event_items("container_crash", {"exit": "exited with status 1"})[0]
    assert crash == {"type": "event", "kind": "container_crash", "text": "crashed: exited with status 1", "bad": True}
    assert event_items("started", {"pid": 7, "why": "the operator revived it"})[0]["text"] == \
        "started (pid 7): the operator revived it"
    resolved = event_items("approval_resolved", {"approval": {"id": 3, "kind": "spawn", "status": "denied",
                                                              "note": "not now"}})[0]
    assert resolved["text"] == "approval #3 spawn denied: not now" and not resolved["bad"]
    assert event_items("something_new", {"a": 1})[0]["text"] == '{"a":1}'  # a kind added later: its payload


def _stats(at: float, duration: float, **extra: object) -> EventRecord:
    return EventRecord(0, at, "bob", "turn.turn_stats", {"duration_ms": duration, **extra})


def test_turn_stats_over_windows() -> None:
    now = 1_000_000.0
    events = [_stats(now - 8 * 86400, 99)]  # outside both windows
    events += [_stats(now - 3 * 86400, 5000, cost_usd=1.0, tool_breakdown={"Bash": 2})]
    events += [_stats(now - 60 * i, 100 * i, cost_usd=0.01, input_tokens=10, output_tokens=5,
                      tool_breakdown={"Read": 1, "Bash": 1}, tool_calls=2) for i in range(1, 21)]
    summary = summarize([record for e in events if (record := record_of(e)) is not None], now)
    day, week = summary["24h"], summary["7d"]
    assert day["turns"] == 20 and week["turns"] == 21 and summary["30d"]["turns"] == 22
    assert day["p50_ms"] == 1000 and day["p95_ms"] == 1900
    assert day["input_tokens"] == 200 and day["tool_calls"] == 40 and day["cost_usd"] == 0.2
    assert week["top_tools"][0] == ("Bash", 22)
    assert percentile([], 50) is None and percentile([7.0], 95) == 7.0


async def test_reading_backwards_through_a_busy_log(hive: Hive) -> None:
    assert await hive.store.max_event_seq() == 0
    assert await hive.store.events_before(None) == []
    batch = [NewEvent("turn.note", "bob" if i % 7 == 0 else "amy", {"text": str(i)}) for i in range(1, 3001)]
    await hive.events.append_many(batch)
    assert await hive.store.max_event_seq() == 3000
    assert [e.seq for e in await hive.store.events_before(None, limit=2)] == [2999, 3000]
    assert await hive.store.events_before(None, "bob", ["turn.stream"]) == []
    history = History(hive.store)
    newest = await history.before(None, "bob", 50)
    bob_seqs = [e.seq for e in (await hive.store.events_after(0, "bob", limit=5000))]
    assert [e.seq for e in newest] == bob_seqs[-50:]
    older = await history.before(newest[0].seq, "bob", 50)
    assert [e.seq for e in older] == bob_seqs[-100:-50]
    assert [e.seq for e in await history.before(bob_seqs[3], "bob", 50)] == bob_seqs[:3]


async def test_last_turn_and_todos(hive: Hive) -> None:
    history = History(hive.store)
    assert await history.last_turn("bob") is None
    await hive.events.append("turn.turn_start", "bob", {"from": "operator", "id": 4})
    await hive.events.append("turn.stream", "bob", line.assistant(line.tool_use("t", "TodoWrite", todos=[
        {"content": "ship it", "status": "in_progress"}])))
    await hive.events.append("turn.turn_end", "bob", {"ok": True, "kind": "ok"})
    await hive.events.append("turn.turn_stats", "bob", {"duration_ms": 1234, "cost_usd": 0.5})
    fresh = History(hive.store)
    turn = await fresh.last_turn("bob")
    assert turn is not None and turn["ok"] and turn["duration_ms"] == 1234 and turn["from"] == "operator"
    assert await fresh.latest_todos("bob") == [{"content": "ship it", "status": "in_progress"}]
