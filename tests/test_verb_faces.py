"""Every verb is whole: declared once (request model naming its reply model), answered by one handler, shown
by the faces it declares (a hivectl command, an agent's tool, …), and documented (docs/adding-a-verb.md)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest

from hyperhive.agent.tools import HAND_MADE, HiveTools
from hyperhive.cli import c0re, hivectl  # noqa: F401  # importing the CLIs registers their commands' faces
from hyperhive.cli._ctl import CLI_FACES
from hyperhive.core.hive import Hive
from hyperhive.core.verbs import agent as agent_verbs
from hyperhive.core.verbs import host as host_verbs
from hyperhive.core.verbs.table import VerbTable
from hyperhive.protocol.agent_requests import AgentRequest
from hyperhive.protocol.fields import Request, verbs_of
from hyperhive.protocol.host_requests import HostRequest
from hyperhive.protocol.replies import Reply

SRC = Path(__file__).resolve().parent.parent / "src" / "hyperhive"
DOCS = Path(__file__).resolve().parent.parent / "docs"
SOCKETS: list[tuple[type[Request[Any]], VerbTable, Any]] = [
    (HostRequest, host_verbs.HOST_VERBS, host_verbs),
    (AgentRequest, agent_verbs.AGENT_VERBS, agent_verbs),
]
VERBS = [(verb, table, module) for base, table, module in SOCKETS for verb in verbs_of(base)]


def _source(folder: str, *, but: str = "") -> str:
    return "".join(p.read_text() for p in sorted((SRC / folder).glob("*.py")) if p.name != but)


def _tool_names() -> set[str]:
    tools = HiveTools(Path("/nonexistent"))  # no connection is made until a tool is called
    tools.manage()
    return {f.__name__ for f in tools.functions}


def test_both_sockets_have_their_verbs() -> None:
    assert {"ping", "subscribe_agent_status", "start"} <= {v.verb_name() for v in verbs_of(HostRequest)}
    assert {"send", "recv", "watch_inbox"} <= {v.verb_name() for v in verbs_of(AgentRequest)}


@pytest.mark.parametrize(("verb", "table", "module"), VERBS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_verb_has_one_handler_answering_its_reply_model(verb: Any, table: VerbTable, module: Any) -> None:
    assert issubclass(verb.reply_model(), Reply)
    assert verb in table, f"{verb.__name__} ({verb.verb_name()!r}) has no handler: mark one with @answers"
    if verb in table.answers:
        hints = typing.get_type_hints(table.answers[verb], vars(module), {"Hive": Hive})
        assert hints["return"] is verb.reply_model(), f"{verb.__name__}'s handler answers {hints['return']}"


def test_no_handler_answers_a_verb_its_socket_does_not_parse() -> None:
    for base, table, _ in SOCKETS:
        assert set(table.answers) | set(table.streams) == set(verbs_of(base))


@pytest.mark.parametrize(("verb", "table", "module"), VERBS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_verb_has_the_faces_it_declares(verb: Any, table: VerbTable, module: Any) -> None:
    cmd = verb.verb_name()
    assert verb.faces, f"{verb.__name__} says nobody calls it: give it faces"
    if "cli" in verb.faces:
        assert verb in CLI_FACES, f"{cmd} has no hivectl command"
    if "mcp" in verb.faces:
        assert set(HAND_MADE.get(verb, (cmd,))) <= _tool_names(), f"{cmd} has no MCP tool"
    if "harness" in verb.faces:
        harness = _source("agent", but="tools.py")
        assert f'"{cmd}"' in harness or f"rq.{verb.__name__}," in harness, f"nothing of the harness sends {cmd}"
    if "dashboard" in verb.faces:
        assert f"rq.{verb.__name__}(" in _source("web") or f'"{cmd}"' in _source("web")


def test_every_tool_is_a_verbs_face() -> None:
    faced = {name for base, _, _ in SOCKETS for verb in verbs_of(base) if "mcp" in verb.faces
             for name in HAND_MADE.get(verb, (verb.verb_name(),))}
    assert _tool_names() - faced <= {"permission_prompt"}


@pytest.mark.parametrize(("verb", "table", "module"), VERBS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_verb_is_documented(verb: Any, table: VerbTable, module: Any) -> None:
    assert f"| `{verb.verb_name()}` |" in (DOCS / "protocol.md").read_text()
