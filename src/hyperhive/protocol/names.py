"""Agent names: the one rule every name obeys before it reaches a path, a query or a socket."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,8}$")
# Inbox keys that are not agents; an agent may never take one of these names.
RESERVED_NAMES = frozenset({"operator", "hive", "all", "manager", "system", "reminder", "self", "schedule"})
MANAGER_NAME = "hm1nd"
MANAGER_ALIAS = "manager"
OPERATOR = "operator"
BROADCAST = "*"
# Senders that are the hive itself rather than a mailbox: they deliver, they never receive.
SYSTEM_SENDER = "system"
SELF_SENDER = "self"  # request_next_turn
REMINDER_SENDER = "reminder"
SCHEDULE_SENDER = "schedule"


class InvalidName(ValueError):
    """A name that breaks the agent-name rule; the message says which part of the rule."""


def check_agent_name(name: object) -> str:
    """Return `name` if it is a valid agent name, else raise InvalidName with a sentence saying why."""
    if not isinstance(name, str):
        raise InvalidName(f"agent name must be a string, not {type(name).__name__}")
    shown = name if len(name) <= 40 else name[:40] + "…"
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidName(
            f"invalid agent name {shown!r}: use 1-9 characters, a lowercase letter first, "
            "then lowercase letters, digits or '-'"
        )
    if name.endswith("-"):
        raise InvalidName(f"invalid agent name {shown!r}: it may not end with '-'")
    if name in RESERVED_NAMES:
        raise InvalidName(f"agent name {shown!r} is reserved")
    return name


def is_agent_name(name: object) -> bool:
    try:
        check_agent_name(name)
    except InvalidName:
        return False
    return True
