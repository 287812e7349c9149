"""Operator actions from the dashboard go through the host.sock verbs, so the dashboard can do nothing
hivectl cannot and both share one validation. A request is checked by HOST_REQUEST and run by
HOST_VERBS[type]; a verb that does not exist yet is simply `unknown_cmd` until core adds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from hyperhive.core.verbs.host import HOST_VERBS
from hyperhive.protocol import ErrorCode, HiveError, check_agent_name
from hyperhive.protocol.host_requests import HOST_REQUEST
from hyperhive.protocol.parsing import parse_request

if TYPE_CHECKING:
    from hyperhive.core.hive import Hive

log = logging.getLogger(__name__)


async def call_verb(hive: Hive, request: dict[str, Any]) -> dict[str, Any]:
    """Run one host verb; raises HiveError with a stable code and a sentence."""
    parsed = parse_request(HOST_REQUEST, request)
    verb = HOST_VERBS.get(type(parsed))
    if verb is None:  # a streaming verb (subscribe_agent_status): the dashboard has its own stream
        raise HiveError(ErrorCode.UNKNOWN_CMD, f"{request['cmd']!r} is not a request-response verb")
    return await verb(hive, parsed)


@cache
def verb_exists(cmd: str) -> bool:
    """Whether this hive knows `cmd`, asked of the request parser itself (a missing field still means yes)."""
    try:
        parse_request(HOST_REQUEST, {"cmd": cmd})
    except HiveError as exc:
        return exc.code != ErrorCode.UNKNOWN_CMD
    return True


# --- agent actions --------------------------------------------------------------------------------
def _named(cmd: str, **extra: Any) -> Callable[[str], list[dict[str, Any]]]:
    """The request shapes a lifecycle verb may take; the first one the parser accepts is sent. Core has not
    fixed them yet (v1 used `name` for restart and `scope` for start/stop), so each is tried in turn."""
    def shapes(name: str) -> list[dict[str, Any]]:
        return [{"cmd": cmd, "name": name, **extra}, {"cmd": cmd, "names": [name], **extra},
                {"cmd": cmd, "scope": {"agent_names": [name]}, **extra}]
    return shapes


@dataclass(frozen=True)
class Action:
    name: str
    cmd: str
    shapes: Callable[[str], list[dict[str, Any]]]
    kinds: frozenset[str]  # agent kinds it applies to
    destructive: bool = False  # the page asks once before it fires
    label: str = ""

    def request(self, agent: str) -> dict[str, Any]:
        first_error: HiveError | None = None
        for shape in self.shapes(agent):
            try:
                parse_request(HOST_REQUEST, shape)
                return shape
            except HiveError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error


MANAGED = frozenset({"managed"})
PEER = frozenset({"peer"})
ANY = MANAGED | PEER

ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("start", "start", _named("start"), MANAGED),
    Action("stop", "stop", _named("stop"), MANAGED),
    Action("restart", "restart", _named("restart"), MANAGED),
    Action("kill", "kill", _named("kill"), MANAGED, destructive=True),
    Action("destroy", "destroy", _named("destroy"), MANAGED, destructive=True),
    Action("purge", "purge", _named("purge"), MANAGED, destructive=True),
    Action("revive", "revive", _named("revive"), MANAGED),
    Action("pause", "set_paused", lambda n: [{"cmd": "set_paused", "name": n, "paused": True}], ANY),
    Action("resume", "set_paused", lambda n: [{"cmd": "set_paused", "name": n, "paused": False}], ANY),
    Action("interrupt", "interrupt", _named("interrupt"), ANY, label="cancel turn"),
    Action("unregister", "unregister_peer", _named("unregister_peer"), PEER, destructive=True),
)}


def available_actions() -> list[dict[str, Any]]:
    """The actions this hive's verbs support, for the pages to draw buttons from."""
    return [{"name": a.name, "label": a.label or a.name, "kinds": sorted(a.kinds), "destructive": a.destructive}
            for a in ACTIONS.values() if verb_exists(a.cmd)]


async def run_action(hive: Hive, action: str, agent: str) -> dict[str, Any]:
    found = ACTIONS.get(action)
    if found is None or not verb_exists(found.cmd):
        raise HiveError(ErrorCode.UNKNOWN_CMD, f"this hive has no {action!r} action")
    check_agent_name(agent)
    record = hive.registry.get(agent)  # None for a destroyed agent's kept state: revive and purge decide
    if record is not None and record.kind not in found.kinds:
        raise HiveError(ErrorCode.NOT_ALLOWED, f"{action} does not apply to {agent}, a {record.kind} agent")
    return await call_verb(hive, found.request(agent))
