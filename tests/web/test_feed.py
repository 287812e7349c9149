"""The live feed's resume contract: after a cursor, exactly the updates after it, or a reload."""

from __future__ import annotations

import asyncio

import pytest

from hyperhive.web.feed import Behind, Cursor, Filter, LiveFeed, Update


def test_since_gives_exactly_the_updates_after_the_cursor() -> None:
    feed = LiveFeed()
    for i in range(5):
        feed.publish("status", {"i": i})
    cursor = Cursor(feed.epoch, 2)
    assert [u.data["i"] for u in feed.since(cursor)] == [2, 3, 4]
    assert feed.since(feed.cursor()) == []


def test_a_cursor_older_than_the_ring_must_reload() -> None:
    feed = LiveFeed(ring_size=3)
    for i in range(6):
        feed.publish("status", {"i": i})
    assert [u.seq for u in feed.since(Cursor(feed.epoch, 3))] == [4, 5, 6]  # the oldest kept is 4: fine
    with pytest.raises(Behind):
        feed.since(Cursor(feed.epoch, 2))


def test_a_cursor_from_another_daemon_run_must_reload() -> None:
    feed = LiveFeed()
    feed.publish("status", {})
    with pytest.raises(Behind):
        feed.since(Cursor("0ther", 1))
    with pytest.raises(Behind):
        feed.since(Cursor(feed.epoch, 99))  # from the future: an earlier run that got further


def test_cursor_text_round_trips_and_rejects_junk() -> None:
    assert Cursor.parse(str(Cursor("ab12", 7))) == Cursor("ab12", 7)
    for junk in ("", "7", "ab.", "ab.x"):
        with pytest.raises(ValueError):
            Cursor.parse(junk)


def test_filter_by_topic_and_agent() -> None:
    wanted = Filter(frozenset({"turn", "status"}), "bob")
    assert wanted.wants(Update(1, "turn", {}, ("bob",)))
    assert not wanted.wants(Update(2, "turn", {}, ("amy",)))
    assert wanted.wants(Update(3, "status", {}))  # concerns everyone
    assert not wanted.wants(Update(4, "message", {}, ("bob",)))


async def test_wait_wakes_every_waiter_on_publish_and_ends_on_close() -> None:
    feed = LiveFeed()
    start = feed.cursor()
    waiters = [asyncio.create_task(feed.wait(start)) for _ in range(3)]
    await asyncio.sleep(0)
    feed.publish("status", {"x": 1})
    results = await asyncio.gather(*waiters)
    assert all([u.data for u in r] == [{"x": 1}] for r in results)
    closing = asyncio.create_task(feed.wait(feed.cursor()))
    await asyncio.sleep(0)
    feed.close()
    assert await closing == []


def test_lazy_data_is_made_once_when_first_read() -> None:
    feed = LiveFeed()
    made: list[int] = []

    def render(row: tuple[int, ...]) -> dict[str, int]:
        made.append(1)
        return {"i": row[0]}

    update = feed.publish("message", (7,), render=render)
    assert made == []  # a flood of mail with no page open renders nothing
    assert update.data == {"i": 7} and update.encoded == '{"i":7}'
    assert feed.since(Cursor(feed.epoch, 0))[0].data == {"i": 7}
    assert made == [1]


def test_the_ring_of_mail_holds_one_object_the_collector_walks_per_message() -> None:
    """What the ring keeps of a message is walked by every garbage collection that sees it; a message's
    update is one tracked object (its row, a tuple of plain values, is untracked by the first pass)."""
    import gc

    from hyperhive.store import MessageRecord
    from hyperhive.web.sources import FeedSources

    feed = LiveFeed()
    sources = FeedSources.__new__(FeedSources)  # only its broker listener, no hive
    sources.feed, sources._attached = feed, True
    records = [MessageRecord.model_construct(id=i, sender="amy", recipient="bob", body=f"hi {i}", sent_at=1.0 + i,
                                             delivered_at=None, acked_at=None, in_reply_to=None, broadcast=False,
                                             dropped_at=None) for i in range(100)]
    sources._on_messages(records)
    del records
    gc.collect()
    kept = [u for u in feed.since(Cursor(feed.epoch, 0))]
    tracked = {id(o) for o in gc.get_objects()}
    per_update = [sum(id(part) in tracked for part in (u, u._source, u.agents)) for u in kept]
    assert per_update == [1] * 100
    assert kept[3].data["body"] == "hi 3" and kept[3].data["sender"] == "amy"  # rendered when sent
