"""The agent.toml a new agent's config repo is seeded with, and the built-in config of the manager."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

import tomli_w

from ..protocol.names import MANAGER_NAME, check_agent_name
from .agent_toml import DEFAULT_MODEL, AgentConfig, load_agent_config


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def _toml_string(value: str) -> str:
    """A TOML string literal, escaped as tomli_w would write it."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def render_template(name: str, description: str = "") -> str:
    """agent.toml text for a new agent: valid as it is, with commented examples of the optional keys.
    Raises InvalidName for a bad name and ConfigError for a description agent.toml would refuse."""
    check_agent_name(name)
    text = string.Template(_read("agent.toml")).substitute(
        name=_toml_string(name), description=_toml_string(description), model=_toml_string(DEFAULT_MODEL)
    )
    load_agent_config(text, expected_name=name)
    return text


def manager_template() -> str:
    """agent.toml text of hm1nd, the manager, as shipped."""
    return _read("hm1nd.toml")


@cache
def manager_config() -> AgentConfig:
    """The built-in config of hm1nd (role manager), validated."""
    return load_agent_config(manager_template(), source="built-in hm1nd.toml", expected_name=MANAGER_NAME)
