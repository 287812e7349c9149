"""docs/migrating-damocles.md cannot fall behind the code: every command and option it shows exists in the
CLI it names, every config key it names exists, its agent.toml and host.toml load (and are what the e2e
tests run), its unit is the shipped one, and the tests it cites exist."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import click
import pytest

from hyperhive.cli import ag3nt, c0re, hivectl
from hyperhive.config import AgentConfig, HostPolicy, load_agent_config
from hyperhive.config.docs import reference_rows
from hyperhive.config.host_policy import load_host_policy
from tests.e2e import test_damocles

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "migrating-damocles.md"
CLIS: dict[str, click.Group] = {"hive-c0re": c0re.main, "hivectl": hivectl.main, "hive-ag3nt": ag3nt.main}
COMMAND = re.compile(r"\b(hive-c0re|hivectl|hive-ag3nt) ([a-z][a-z-]*)(.*)")


def text() -> str:
    return DOC.read_text(encoding="utf-8")


def fenced(lang: str) -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(rf"```{lang}\n(.*?)```", text(), flags=re.S)]


def code() -> list[str]:
    """Every piece of code on the page: fenced blocks, indented blocks, inline spans (one per line)."""
    doc = text()
    blocks = [line for block in re.findall(r"```[a-z]*\n(.*?)```", doc, flags=re.S) for line in block.splitlines()]
    rest = re.sub(r"```[a-z]*\n.*?```", "", doc, flags=re.S)
    indented = [line.strip() for line in rest.splitlines()
                if line.startswith("    ") and line.lstrip()[:2] not in ("- ", "* ")]
    spans = re.findall(r"`([^`\n]+)`", rest)
    return blocks + indented + spans


def commands() -> list[tuple[str, str, list[str]]]:
    """(cli, command, its --options) for each command shown, options up to a comment or the next command."""
    found = []
    for line in code():
        for cli, name, tail in COMMAND.findall(line):
            tail = re.split(r"\s(?:#|\||&&|;|or:)", tail)[0]
            found.append((cli, name, [t.split("=")[0] for t in tail.split() if t.startswith("--")]))
    return found


def test_the_page_shows_the_commands_the_note_needs() -> None:
    shown = {(cli, name) for cli, name, _ in commands()}
    for needed in [("hive-c0re", "register-peer"), ("hive-c0re", "spawn"), ("hive-c0re", "list"),
                   ("hive-ag3nt", "serve"), ("hive-ag3nt", "mcp"), ("hivectl", "stop"), ("hive-c0re", "serve")]:
        assert needed in shown, needed


@pytest.mark.parametrize("cli,name,options", commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_and_option_shown_exists(cli: str, name: str, options: list[str]) -> None:
    group = CLIS[cli]
    assert name in group.commands, f"`{cli} {name}` is on the page, but {cli} has no such command"
    known = {opt for param in group.commands[name].params for opt in param.opts}
    for option in options:
        assert option in known, f"`{cli} {name} {option}`: no such option"


def test_every_config_key_named_exists() -> None:
    keys = {row[0] for model in (AgentConfig, HostPolicy) for row in reference_rows(model)}
    tops = {key.split(".")[0].split("[")[0] for key in keys}
    spans = re.findall(r"`([a-z_]+(?:\.[a-z_]+)*)(?: = [^`]*)?`", text())  # `key` or `key = value`
    named = {span for span in spans if span.split(".")[0] in tops}
    assert {"bind_mounts", "restart.stop_timeout_seconds", "restart.delay_seconds", "network", "bind_roots"} <= named
    for key in named:
        assert key in keys, f"`{key}` is not a key of agent.toml or host.toml"


def test_the_agent_toml_loads_and_is_what_option_a_runs() -> None:
    (block,) = [b for b in fenced("toml") if b.startswith("name = ")]
    config = load_agent_config(block, expected_name="damocles")
    assert block == test_damocles.DAMOCLES_AGENT.format(root="")  # the e2e test runs this very file
    assert config.network == "host"
    assert (config.restart.stop_timeout_seconds, config.restart.delay_seconds) == (60, 5)
    assert [(str(m.host), m.target, m.mode) for m in config.bind_mounts] == [
        ("/etc/nix/distributed-build-key", "/etc/nix/distributed-build-key", "ro"),
        ("/persist/damocles-ssh", "/persist/damocles-ssh", "ro"),
        ("/persist/damocles-lab", "/persist/damocles-lab", "rw")]


def test_the_host_toml_loads_and_allows_exactly_the_three_mounts(short_tmp: Path) -> None:
    (block,) = [b for b in fenced("toml") if b.startswith("bind_roots")]
    (short_tmp / "host.toml").write_text(block)
    policy = load_host_policy(short_tmp, environ={})
    config = load_agent_config(test_damocles.DAMOCLES_AGENT.format(root=""))
    assert [str(r) for r in policy.bind_roots] == [str(m.host) for m in config.bind_mounts]
    assert "host" in policy.allowed_networks


def test_the_unit_is_the_shipped_one() -> None:
    (unit,) = [b for b in fenced("ini") if "ExecStart" in b]
    shipped = (ROOT / "packaging" / "systemd" / "hive-ag3nt-serve.service").read_text()
    lines = [line for line in shipped.splitlines() if line and not line.startswith("#")]
    assert [line for line in unit.splitlines() if line] == lines


def test_the_mcp_line_is_the_one_the_peer_test_types() -> None:
    (line,) = [c for c in code() if c.startswith("claude mcp add ")]
    assert line in test_damocles.PEER_INIT


def test_the_tests_it_cites_exist() -> None:
    for name in re.findall(r"`(test_[a-z_]+)`", text()):
        assert hasattr(test_damocles, name), f"{name} is not in tests/e2e/test_damocles.py"
    assert (ROOT / "tests" / "e2e" / "test_damocles.py").exists()
