"""Operator actions from the dashboard go through the host.sock verbs, so the dashboard can do nothing
hivectl cannot and both share one validation. A request is checked by HOST_REQUEST and run by the handler
host.sock runs (HOST_VERBS); what it answers is the verb's reply model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel

from hyperhive.core.verbs.host import HOST_VERBS
from hyperhive.protocol import ErrorCode, HiveError, check_agent_name
from hyperhive.protocol.host_requests import HOST_REQUEST
from hyperhive.protocol.parsing import parse_request
from hyperhive.protocol.replies import Reply

if TYPE_CHECKING:
    from hyperhive.core.hive import Hive

log = logging.getLogger(__name__)


async def call_verb(hive: Hive, request: dict[str, object]) -> Reply:
    """Run one host verb given as JSON and answer its reply model (`.wire()` is the keys of its line on
    host.sock); raises HiveError with a stable code and a sentence."""
    parsed = parse_request(HOST_REQUEST, request)
    verb = HOST_VERBS.answers.get(type(parsed))
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
@dataclass(frozen=True)
class Action:
    name: str
    cmd: str
    kinds: frozenset[str]  # agent kinds it applies to
    confirm: str = ""  # destructive: the page asks this once before it fires ({name} is the agent)
    label: str = ""
    extra: tuple[tuple[str, bool], ...] = ()  # fields sent beside the name

    def request(self, agent: str) -> dict[str, object]:
        return {"cmd": self.cmd, "name": agent, **dict(self.extra)}


MANAGED = frozenset({"managed"})
PEER = frozenset({"peer"})
ANY = MANAGED | PEER

ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("start", "start", MANAGED),
    Action("stop", "stop", MANAGED),
    Action("restart", "restart", MANAGED),
    Action("rebuild", "rebuild", MANAGED),
    Action("revive", "revive", MANAGED),
    Action("kill", "kill", MANAGED, confirm="kill {name}? SIGKILL now: its running turn is cut off."),
    Action("destroy", "destroy", MANAGED,
           confirm="destroy {name}? Its sandbox goes; state, config and credentials stay, so it can be revived."),
    Action("purge", "destroy", MANAGED, extra=(("purge", True),),
           confirm="purge {name}? Its state, config and credentials are deleted for good (its messages stay)."),
    Action("pause", "set_paused", ANY, extra=(("paused", True),)),
    Action("resume", "set_paused", ANY, extra=(("paused", False),)),
    Action("interrupt", "interrupt", ANY, label="cancel turn"),
    Action("unregister", "unregister_peer", PEER,
           confirm="unregister {name}? Its socket goes and the peer cannot reach the hive (its messages stay)."),
)}


class ActionButton(BaseModel):
    """An action as the pages draw its button."""

    name: str
    label: str
    kinds: list[str]
    confirm: str | None


def available_actions() -> list[ActionButton]:
    """The actions this hive's verbs support, for the pages to draw buttons from."""
    return [ActionButton(name=a.name, label=a.label or a.name, kinds=sorted(a.kinds), confirm=a.confirm or None)
            for a in ACTIONS.values() if verb_exists(a.cmd)]


async def run_action(hive: Hive, action: str, agent: str) -> Reply:
    found = ACTIONS.get(action)
    if found is None or not verb_exists(found.cmd):
        raise HiveError(ErrorCode.UNKNOWN_CMD, f"this hive has no {action!r} action")
    check_agent_name(agent)
    record = hive.registry.require(agent)
    if record.kind not in found.kinds:
        raise HiveError(ErrorCode.NOT_ALLOWED, f"{action} does not apply to {agent}, a {record.kind} agent")
    return await call_verb(hive, found.request(agent))
