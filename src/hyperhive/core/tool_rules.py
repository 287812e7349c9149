"""Which of an agent's `[tools] ask` rules a tool call matches, in Claude Code's rule syntax.

The CLI decides that a call prompts; the hive checks it again, so that only a call an ask rule names ever
reaches the operator (a call no rule allows is refused, as it is without ask rules), and so that "allow from
now on" knows which rule to turn into an allow. Where a specifier is not understood the rule matches: the
worst that does is ask the operator about a call that would have been refused.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

RULE = re.compile(r"^(?P<tool>[A-Za-z][A-Za-z0-9_]*)(?:\((?P<spec>.*)\))?$", re.DOTALL)
PATH_KEYS = ("file_path", "notebook_path", "path")


# A tool's input is the model's JSON, whatever the tool takes: read by key, each value as text.
def matching_rule(rules: list[str], tool: str, tool_input: Mapping[str, object]) -> str | None:
    for rule in rules:
        if rule_matches(rule, tool, tool_input):
            return rule
    return None


def rule_matches(rule: str, tool: str, tool_input: Mapping[str, object]) -> bool:
    found = RULE.match(rule)
    if found is None or found["tool"] != tool:
        return False
    spec = found["spec"]
    if spec is None:
        return True
    if tool == "Bash":
        return _command_matches(spec, str(tool_input.get("command", "")))
    if tool in ("WebFetch", "WebSearch") and spec.startswith("domain:"):
        host = urlsplit(str(tool_input.get("url", ""))).hostname or ""
        domain = spec.removeprefix("domain:")
        return host == domain or host.endswith("." + domain)
    path = next((str(tool_input[k]) for k in PATH_KEYS if k in tool_input), None)
    if path is not None:
        return fnmatch.fnmatch(path, spec) or fnmatch.fnmatch(path, "*/" + spec.lstrip("/"))
    return True


def _command_matches(spec: str, command: str) -> bool:
    if spec.endswith(":*"):
        prefix = spec[:-2]
        return command == prefix or command.startswith(prefix + " ")
    if "*" in spec:
        return fnmatch.fnmatchcase(command, spec)
    return command == spec
