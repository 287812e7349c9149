"""The Store contract, once, against every backend (see conftest.py): what the broker, approvals,
reminders and questions rely on, including the conditional updates that make races safe."""

from __future__ import annotations

import asyncio

import pytest

from hyperhive.store import AgentRecord, NewEvent, NewMessage, QuestionRecord, Store, StoreError, TurnStatsRecord


def msg(sender: str, recipient: str, body: str = "hi", at: float = 1.0) -> NewMessage:
    return NewMessage(sender, recipient, body, at)


# --- agents -----------------------------------------------------------------------------------------------
async def test_agents_are_created_listed_updated_and_deleted(store: Store) -> None:
    await store.create_agent(AgentRecord("bob", "managed", created_at=2.0))
    await store.create_agent(AgentRecord("alice", "peer", created_at=1.0, description="d"))
    with pytest.raises(StoreError, match="already exists"):
        await store.create_agent(AgentRecord("bob", "managed", created_at=3.0))
    assert [a.name for a in await store.list_agents()] == ["alice", "bob"]
    changed = await store.update_agent("bob", paused=True, status_text="busy", lifecycle="running")
    assert (changed.paused, changed.status_text, changed.lifecycle) == (True, "busy", "running")
    assert await store.get_agent("bob") == changed
    with pytest.raises(ValueError, match="not mutable"):
        await store.update_agent("bob", kind="peer")
    with pytest.raises(StoreError, match="no agent"):
        await store.update_agent("ghost", paused=True)
    await store.delete_agent("bob")
    assert await store.get_agent("bob") is None


# --- messages ---------------------------------------------------------------------------------------------
async def test_messages_wait_unacked_in_order_until_acked(store: Store) -> None:
    sent = await store.insert_messages([msg("a", "b", "one"), msg("a", "b", "two"), msg("a", "c", "x")])
    assert [m.id for m in sent] == sorted(m.id for m in sent)
    assert [m.body for m in await store.unacked_messages("b", 10)] == ["one", "two"]
    assert [m.body for m in await store.unacked_messages("b", 10, exclude_ids=[sent[0].id])] == ["two"]
    assert [m.body for m in await store.unacked_messages("b", 1)] == ["one"]
    assert await store.count_unacked("b") == 2
    # recv's one read: the oldest unacked (less those in flight) and the count of every unacked one
    assert await store.unacked_and_count("b", 1, exclude_ids=[sent[0].id]) == ([sent[1]], 2)
    assert await store.unacked_and_count("nobody", 5) == ([], 0)
    assert await store.unacked_counts() == {"b": 2, "c": 1}
    await store.mark_delivered([sent[0].id], 5.0)
    assert (await store.get_message(sent[0].id)).delivered_at == 5.0  # type: ignore[union-attr]
    # only the recipient's own, only once
    assert await store.ack_messages("c", [sent[0].id], 6.0) == []
    assert await store.ack_messages("b", [sent[0].id, sent[1].id], 6.0) == [sent[0].id, sent[1].id]
    assert await store.ack_messages("b", [sent[0].id], 7.0) == []
    acked = await store.get_message(sent[1].id)
    assert acked is not None and acked.acked_at == 6.0 and acked.delivered_at == 6.0
    assert await store.unacked_messages("b", 10) == []
    assert await store.get_message(10**12) is None


async def test_recent_and_inbox_messages_are_newest_first_and_filtered(store: Store) -> None:
    sent = await store.insert_messages([msg("a", "b", "1"), msg("b", "c", "2"), msg("c", "d", "3")])
    assert [m.body for m in await store.recent_messages(10)] == ["3", "2", "1"]
    assert [m.body for m in await store.recent_messages(10, before_id=sent[2].id)] == ["2", "1"]
    assert [m.body for m in await store.recent_messages(10, involving="b")] == ["2", "1"]
    await store.ack_messages("c", [sent[1].id], 2.0)
    assert [m.body for m in await store.inbox_messages("c", 10, unread_only=False)] == ["2"]
    assert await store.inbox_messages("c", 10, unread_only=True) == []


async def test_concurrent_sends_all_land_with_distinct_ids(store: Store) -> None:
    batches = await asyncio.gather(*(store.insert_messages([msg("a", "b", str(i))]) for i in range(50)))
    ids = [m.id for batch in batches for m in batch]
    assert len(set(ids)) == 50 and await store.count_unacked("b") == 50


# --- events -----------------------------------------------------------------------------------------------
async def test_events_page_forwards_and_backwards_and_prune(store: Store) -> None:
    assert await store.max_event_seq() == 0
    stored = await store.append_events(
        [NewEvent("transcript.line", "a", {"n": i, "text": "é"}, at=float(i)) for i in range(5)]
        + [NewEvent("spawned", "b", {"x": [1, 2]})])
    seqs = [e.seq for e in stored]
    assert await store.max_event_seq() == seqs[-1]
    assert [e.payload["n"] for e in await store.events_after(seqs[1], agent="a")] == [2, 3, 4]
    assert [e.kind for e in await store.events_after(0, kinds=["spawned"])] == ["spawned"]
    assert (await store.events_after(0, kinds=["spawned"]))[0].payload == {"x": [1, 2]}
    assert [e.payload["n"] for e in await store.events_before(seqs[4], agent="a", limit=2)] == [2, 3]
    assert [e.seq for e in await store.events_before(None, limit=2)] == seqs[-2:]
    assert await store.prune_events("a", "transcript.", keep=2) == 3
    assert [e.payload["n"] for e in await store.events_after(0, agent="a")] == [3, 4]
    assert len(await store.events_after(0, agent="b")) == 1  # another agent's, another kind: kept


# --- reminders and questions --------------------------------------------------------------------------------
async def test_reminders_respect_the_limit_and_deliver_once(store: Store) -> None:
    first = await store.add_reminder("a", "wake", due_at=10.0, created_at=1.0, limit=2)
    second = await store.add_reminder("a", "later", due_at=20.0, created_at=1.0, limit=2)
    assert first is not None and second is not None
    assert await store.add_reminder("a", "too many", due_at=30.0, created_at=1.0, limit=2) is None
    assert [r.body for r in await store.pending_reminders("a")] == ["wake", "later"]
    assert await store.pending_reminder_counts() == {"a": 2}
    delivered = await asyncio.gather(*(store.deliver_reminder(first.id, msg("reminder", "a", "wake"))
                                       for _ in range(5)))
    assert len([d for d in delivered if d is not None]) == 1  # fired five times at once: one message
    assert await store.count_unacked("a") == 1
    assert await store.cancel_reminder(second.id, "b", 3.0) is None  # not b's
    cancelled = await store.cancel_reminder(second.id, "a", 3.0)
    assert cancelled is not None and cancelled.cancelled_at == 3.0
    assert await store.pending_reminders() == []


async def test_a_question_is_asked_with_its_message_and_closed_once(store: Store) -> None:
    q = QuestionRecord(id=0, asker="a", target="operator", question="colour?", options=["red", "green"], multi=True,
                       asked_at=1.0, expires_at=100.0)
    stored, told = await store.add_question(q, lambda s: msg("a", "operator", f"question #{s.id}"))
    assert told is not None and told.body == f"question #{stored.id}"
    assert (stored.options, stored.multi, stored.status) == (["red", "green"], True, "open")
    assert await store.get_question(stored.id) == stored
    closed = await asyncio.gather(*(store.close_question(stored.id, "answered", "red", "operator", 2.0,
                                                         msg("operator", "a", "red")) for _ in range(3)))
    winners = [c for c in closed if c is not None]
    assert len(winners) == 1 and winners[0][0].answer == "red" and winners[0][0].status == "answered"
    assert [x.id for x in await store.questions(status="answered", involving="a")] == [stored.id]
    assert await store.questions(status="open") == []


# --- approvals and schedules --------------------------------------------------------------------------------
async def test_an_approval_resolves_once_and_finishes_with_its_payload(store: Store) -> None:
    made = await store.add_approval("apply_commit", "a", "hm1nd", commit_ref="abc1234", fetched_sha=None,
                                    description="d", payload={"diff": "+x"}, status="pending", at=1.0)
    await store.update_approval(made.id, fetched_sha="f" * 40)
    await store.update_approval(made.id, payload={"diff": "+y"})
    got = await store.get_approval(made.id)
    assert got is not None and (got.fetched_sha, got.payload) == ("f" * 40, {"diff": "+y"})
    results = await asyncio.gather(store.resolve_approval(made.id, "approved", None, 2.0),
                                   store.resolve_approval(made.id, "denied", "no", 2.0))
    assert len([r for r in results if r is not None]) == 1  # an approve and a deny racing: one wins
    done = await store.finish_approval(made.id, "failed", "broke", 3.0, payload={"log": "x"})
    assert (done.status, done.note, done.done_at, done.payload) == ("failed", "broke", 3.0, {"log": "x"})
    other = await store.add_approval("spawn", "b", "operator", commit_ref=None, fetched_sha=None,
                                     description="", payload={}, status="denied", at=4.0, note="n")
    assert other.resolved_at == 4.0 and other.done_at == 4.0
    assert [a.id for a in await store.list_approvals()] == [other.id, made.id]
    assert [a.id for a in await store.list_approvals(kind="spawn", agent="b", status="denied")] == [other.id]
    with pytest.raises(StoreError):
        await store.finish_approval(10**12, "failed", None, 5.0)


async def test_a_schedule_fires_atomically_and_ends_when_it_has_no_next_time(store: Store) -> None:
    s = await store.add_schedule(["a", "b"], "tick", "every minute", 10.0, 60.0, "active", "hm1nd", None, 1.0)
    assert (s.targets, s.next_fire_at, s.status) == (["a", "b"], 10.0, "active")
    sent = await store.fire_schedule(s.id, [msg("schedule", "a", "tick"), msg("schedule", "b", "tick")], 70.0, 10.0)
    assert sent is not None and len(sent) == 2
    again = await store.get_schedule(s.id)
    assert again is not None and (again.next_fire_at, again.fire_count, again.last_fired_at) == (70.0, 1, 10.0)
    await store.update_schedule(s.id, targets=["a"], body="tock")
    assert (await store.get_schedule(s.id)).targets == ["a"]  # type: ignore[union-attr]
    last = await store.fire_schedule(s.id, [msg("schedule", "a", "tock")], None, 70.0)
    assert last is not None and (await store.get_schedule(s.id)).status == "done"  # type: ignore[union-attr]
    assert await store.fire_schedule(s.id, [msg("schedule", "a", "late")], None, 80.0) is None
    assert [x.id for x in await store.list_schedules(["done"])] == [s.id]
    assert await store.list_schedules(["active"]) == []
    with pytest.raises(ValueError, match="not mutable"):
        await store.update_schedule(s.id, created_by="x")


# --- maintenance: dropped mail, retention, turn stats ------------------------------------------------------
async def test_dropped_mail_is_never_offered_again(store: Store) -> None:
    sent = await store.insert_messages([msg("a", "gone", "1"), msg("a", "gone", "2"), msg("a", "other", "3")])
    await store.ack_messages("gone", [sent[0].id], 2.0)
    assert await store.drop_mail("gone", 3.0) == [sent[1].id]
    assert await store.unacked_messages("gone", 10) == [] and await store.count_unacked("other") == 1
    dropped = await store.get_message(sent[1].id)
    assert dropped is not None and dropped.dropped_at == 3.0


async def test_retention_prunes_old_read_mail_and_events_but_keeps_audit_and_unread(store: Store) -> None:
    old, unread, new = await store.insert_messages([msg("a", "b", "old", 1.0), msg("a", "b", "unread", 1.0),
                                                    msg("a", "b", "new", 50.0)])
    await store.mark_delivered([old.id, new.id], 2.0)
    await store.ack_messages("b", [old.id], 2.0)
    await store.ack_messages("b", [new.id], 60.0)
    await store.append_events([NewEvent("transcript.line", "b", at=1.0), NewEvent("approval_resolved", at=1.0),
                               NewEvent("transcript.line", "b", at=70.0)])
    await store.add_turn_stats(TurnStatsRecord("b", started_at=1.0, ended_at=2.0, tool_breakdown={"Bash": 2}))
    await store.add_turn_stats(TurnStatsRecord("b", started_at=80.0, ended_at=81.0, cost_usd=0.5))
    assert await store.oldest_prunable(["approval_"]) == (2.0, 1.0, 1.0)
    result = await store.prune_older(10.0, 10.0, ["approval_"], 10.0)
    assert (result.messages, result.events, result.turn_stats) == (1, 1, 1)
    assert await store.get_message(old.id) is None
    assert await store.get_message(unread.id) is not None  # never read: never pruned, however old
    assert [e.kind for e in await store.events_after(0)] == ["approval_resolved", "transcript.line"]
    assert await store.oldest_prunable(["approval_"]) == (60.0, 70.0, 80.0)


async def test_turn_stats_are_kept_per_turn_and_summarised(store: Store) -> None:
    await store.add_turn_stats(TurnStatsRecord("a", 10.0, 11.0, model="m", cost_usd=0.25, tool_breakdown={"x": 1}))
    await store.add_turn_stats(TurnStatsRecord("a", 20.0, 21.0, model="m", cost_usd=0.5, ok=False))
    await store.add_turn_stats(TurnStatsRecord("b", 5.0, 6.0, cost_usd=1.0))
    turns = await store.turn_stats("a", since=0.0)
    assert [(t.started_at, t.ok, t.tool_breakdown) for t in turns] == [(10.0, True, {"x": 1}), (20.0, False, {})]
    assert [t.started_at for t in await store.turn_stats("a", since=15.0)] == [20.0]
    summary = await store.turn_stats_summary(since=15.0)
    assert summary["a"][0].started_at == 20.0 and summary["a"][1] == 0.5
    assert summary["b"][1] == 0.0  # its only turn is before `since`: latest kept, no cost in the window


# --- nodes and leases -------------------------------------------------------------------------------------
async def test_nodes_beat_and_are_listed_with_their_age(store: Store) -> None:
    await store.node_beat("n1", starting=True)
    await store.node_beat("n2", starting=True)
    first = {n.name: n for n in await store.list_nodes()}
    await store.node_beat("n1")
    again = {n.name: n for n in await store.list_nodes()}
    assert sorted(again) == ["n1", "n2"]
    assert again["n1"].started_at == first["n1"].started_at and again["n1"].seen_at >= first["n1"].seen_at
    assert all(0 <= n.age < 60 for n in again.values())


async def test_a_lease_has_one_holder_until_it_expires_and_its_epoch_grows_on_takeover(store: Store) -> None:
    held = await store.claim_lease("leader", "n1", ttl=60)
    assert held is not None and (held.holder, held.epoch) == ("n1", 1)
    assert await store.claim_lease("leader", "n2", ttl=60) is None  # n1's lease runs
    renewed = await store.claim_lease("leader", "n1", ttl=60)
    assert renewed is not None and renewed.epoch == 1 and renewed.expires_at >= held.expires_at
    short = await store.claim_lease("other", "n1", ttl=0.2)
    assert short is not None
    await asyncio.sleep(0.3)  # the lease's own clock runs out; nothing to wait on but time
    taken = await store.claim_lease("other", "n2", ttl=60)
    assert taken is not None and (taken.holder, taken.epoch) == ("n2", 2)
    await store.release_lease("leader", "n2")  # not n2's: nothing happens
    assert await store.claim_lease("leader", "n2", ttl=60) is None
    await store.release_lease("leader", "n1")
    moved = await store.claim_lease("leader", "n2", ttl=60)
    assert moved is not None and (moved.holder, moved.epoch) == ("n2", 2)


async def test_racing_claims_make_one_holder(store: Store) -> None:
    results = await asyncio.gather(*(store.claim_lease("leader", f"n{i}", ttl=60) for i in range(8)))
    assert len([r for r in results if r is not None]) == 1


# --- metered API calls ------------------------------------------------------------------------------------
async def test_usage_is_summed_by_agent_model_and_day_and_pruned(store: Store) -> None:
    from hyperhive.store.usage import UsageRecord

    day = 86400.0
    await store.add_usage([
        UsageRecord(10 * day + 5, "a", 1, "m1", 100, 10, 1, 2, 0.5, True),
        UsageRecord(10 * day + 6, "a", 1, "m2", 200, 20, 0, 0, 1.5, True),
        UsageRecord(11 * day + 1, "b", None, "m1", 1, 1, 1, 1, 0.0, False),
        UsageRecord(2 * day, "a", 9, "m1", 1000, 0, 0, 0, 9.0, True)])
    by_agent = await store.usage_totals("agent", since=10 * day)
    assert [(t.key, t.calls, t.tokens, t.cost_usd) for t in by_agent] == [("a", 2, 333, 2.0), ("b", 1, 4, 0.0)]
    assert [t.key for t in await store.usage_totals("model", since=10 * day)] == ["m2", "m1"]  # by cost
    days = await store.usage_totals("day", since=0)
    assert [(t.key, t.calls) for t in days] == [("1970-01-03", 1), ("1970-01-11", 2), ("1970-01-12", 1)]
    assert [t.calls for t in await store.usage_totals("agent", since=0, agent="a", turn=1)] == [2]
    assert await store.prune_usage(before=10 * day) == 1
    assert [t.key for t in await store.usage_totals("day", since=0)] == ["1970-01-11", "1970-01-12"]
