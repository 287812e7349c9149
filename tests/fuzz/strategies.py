"""Hostile input for the fuzz tests: request objects built from the protocol's own models, with values
chosen to break bounds (ids past int64, huge floats, long, empty and odd text, deep nesting), and raw lines
that are not requests at all."""

from __future__ import annotations

import json
from typing import Any, get_args

from hypothesis import strategies as st
from pydantic import BaseModel

from hyperhive.protocol.agent_requests import AgentRequest
from hyperhive.protocol.fields import verbs_of
from hyperhive.protocol.host_requests import HostRequest

INT64_MAX = 2**63 - 1


def cmd_of(model: type[BaseModel]) -> str:
    cmd: str = get_args(model.model_fields["cmd"].annotation)[0]
    return cmd


HOST_MODELS: list[type[BaseModel]] = list(verbs_of(HostRequest))  # every verb, as the sockets parse them
AGENT_MODELS: list[type[BaseModel]] = list(verbs_of(AgentRequest))

EDGE_INTS = [0, 1, -1, 42, 2**31, INT64_MAX, INT64_MAX + 1, -INT64_MAX - 2, 2**64, 10**30]
EDGE_FLOATS = [0.0, -0.0, 0.5, 1e-300, 1e300, -1e300, 3.0e9, 2.5e11]
EDGE_TEXTS = ["", " ", "alice", "bob", "x", "operator", "manager", "*", "hm1nd", "../etc", "a" * 300, "é" * 70,
              "2026-11-24T18:30:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "not a time",
              "claude-sonnet-4-5", "question", "pending", "\u0000", "\u202e", "💥"]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from(EDGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(EDGE_FLOATS),
    st.text(max_size=30), st.sampled_from(EDGE_TEXTS),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["to", "body", "agent_names",
                                                                                 "agents", "id", "kind", "x"]) |
                                                                st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def request_objects(draw: st.DrawFn, models: list[type[BaseModel]], skip: frozenset[str] = frozenset()
                    ) -> dict[str, Any]:
    """A request for one of `models`: some of its own fields, with hostile values, now and then a stranger."""
    model = draw(st.sampled_from([m for m in models if cmd_of(m) not in skip]))
    names = [n for n in model.model_fields if n != "cmd"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    obj: dict[str, Any] = {"cmd": cmd_of(model)}
    for name in chosen:
        obj[name] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return obj


def dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


# Lines that are not requests: the corpus of issue 13 and random bytes.
SPECIAL_LINES = [
    b'{"cmd":"list","req_id":"\\ud800"}',
    b'{"cmd":"list","req_id":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"cmd":"list","x":NaN}',
    b'{"cmd":"list","x":-Infinity}',
    b'{"cmd":"list","x":1e999}',
    b'{"cmd":"approve","id":9223372036854775808}',
    b'{"cmd":"list","req_id":' + b"9" * 5000 + b"}",
    b'{"cmd":"send","to":"bob","body":"' + b"a" * (1024 * 1024 + 5) + b'"}',
    b'{"cmd":"harness_state","activity":"idle","model":"' + b"m" * 100_000 + b'"}',
    b"\xff\xfe\xfd",
    b"[]",
    b'"cmd"',
    b"{}",
]
raw_lines = st.one_of(
    st.sampled_from(SPECIAL_LINES),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass").replace(b"\n", b" ")),
)
