"""The meter's parser edge: usage read from SSE bytes however they are cut, and priced by the table."""

from __future__ import annotations

import json

from hyperhive.gateway.prices import price_table
from hyperhive.gateway.usage import Usage, UsageReader
from tests.support.api_replies import Reply, message_json, sse_events

REPLY = Reply(text="héllo " * 20, input_tokens=1234, output_tokens=56, cache_read_tokens=7, cache_creation_tokens=89)
STREAM = b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                  for name, data in sse_events(REPLY, "claude-opus-4-5-20251101", "msg_1"))


def read(chunks: list[bytes]) -> tuple[Usage | None, str]:
    reader = UsageReader("text/event-stream; charset=utf-8")
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish(), reader.model


def test_usage_is_read_from_a_stream_cut_anywhere() -> None:
    expected = (Usage(1234, 56, 7, 89), "claude-opus-4-5-20251101")
    assert read([STREAM[i:i + 1] for i in range(len(STREAM))]) == expected  # byte by byte
    for cut in range(len(STREAM) + 1):  # every place a chunk boundary can fall
        assert read([STREAM[:cut], STREAM[cut:]]) == expected, cut


def test_a_json_answer_and_an_answer_without_usage() -> None:
    reader = UsageReader("application/json")
    reader.feed(json.dumps(message_json(REPLY, "claude-haiku-4-5", "msg_2")).encode())
    assert reader.finish() == Usage(1234, 56, 7, 89) and reader.model == "claude-haiku-4-5"
    cut_off = UsageReader("text/event-stream")
    cut_off.feed(b"event: ping\ndata: {\"type\": \"ping\"}\n\n")
    assert cut_off.finish() is None


def test_prices_by_model_family_and_token_kind() -> None:
    table = price_table()
    assert table.retrieved == "2026-11-25" and table.source.startswith("https://platform.claude.com/")
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000,
                  cache_write_tokens=1_000_000)
    assert table.cost("claude-opus-4-5-20251101", usage) == 5 + 25 + 0.5 + 6.25
    assert table.cost("claude-opus-4-1", usage) == 15 + 75 + 1.5 + 18.75  # not opus-4's longer-lived price
    assert table.cost("claude-sonnet-4-5", Usage(input_tokens=2_000)) == 0.006
    assert table.cost("claude-scripted-1", usage) is None  # unknown: unpriced, never guessed
