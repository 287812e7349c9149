"""agent.toml: one model; every refusal names the key and the reason."""

from __future__ import annotations

import pytest

from hyperhive.config import (
    DEFAULT_MODEL,
    AgentConfig,
    ConfigError,
    dump_agent_config,
    load_agent_config,
    manager_config,
    render_template,
)
from hyperhive.protocol.names import InvalidName

FULL = """
name = "alice"
description = "Reads the news."
role = "agent"
model = "claude-opus-4-1"
available_models = ["claude-opus-4-1", "claude-sonnet-4-5"]
allowed_recipients = ["bob", "operator"]
network = "host"
parent = "bob"

[env]
GREETING = "hello"

[restart]
policy = "always"
delay_seconds = 2
max_restarts = 3
window_seconds = 60
stop_timeout_seconds = 10.5

[limits]
memory_mb = 2048
cpu_percent = 150
pids = 256

[mcp_servers.search]
command = "/usr/bin/search-mcp"
args = ["--fast"]
env = { TOKEN_FILE = "/home/alice/token" }
allowed_tools = ["query", "fetch"]

[[bind_mounts]]
host = "/srv/share/news"
target = "/mnt/news"
mode = "rw"
"""


def refusal(text: str, **kwargs: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_agent_config(text, **kwargs)
    return str(caught.value)


def test_every_key_is_read() -> None:
    cfg = load_agent_config(FULL)
    assert (cfg.name, cfg.role, cfg.network, cfg.parent) == ("alice", "agent", "host", "bob")
    assert cfg.model == "claude-opus-4-1"
    assert cfg.available_models == ["claude-opus-4-1", "claude-sonnet-4-5"]
    assert cfg.allowed_recipients == ["bob", "operator"]
    assert cfg.env == {"GREETING": "hello"}
    assert (cfg.restart.policy, cfg.restart.delay_seconds, cfg.restart.max_restarts) == ("always", 2.0, 3)
    assert (cfg.restart.window_seconds, cfg.restart.stop_timeout_seconds) == (60.0, 10.5)
    assert (cfg.limits.memory_mb, cfg.limits.cpu_percent, cfg.limits.pids) == (2048, 150, 256)
    server = cfg.mcp_servers["search"]
    assert (server.command, server.args, server.env, server.allowed_tools) == (
        "/usr/bin/search-mcp", ["--fast"], {"TOKEN_FILE": "/home/alice/token"}, ["query", "fetch"])
    mount = cfg.bind_mounts[0]
    assert (mount.host, mount.target, mount.mode) == ("/srv/share/news", "/mnt/news", "rw")


def test_defaults() -> None:
    cfg = load_agent_config('name = "alice"')
    assert (cfg.role, cfg.model, cfg.network, cfg.parent, cfg.description) == ("agent", DEFAULT_MODEL, None, None, "")
    assert (cfg.restart.policy, cfg.restart.delay_seconds, cfg.restart.stop_timeout_seconds) == ("on-failure", 5, 30)
    assert (cfg.restart.max_restarts, cfg.restart.window_seconds) == (5, 300)
    assert cfg.limits.memory_mb is None and cfg.bind_mounts == [] and cfg.mcp_servers == {}


def test_dump_round_trips() -> None:
    cfg = load_agent_config(FULL)
    assert load_agent_config(dump_agent_config(cfg)) == cfg
    assert dump_agent_config(load_agent_config('name = "alice"')).startswith('name = "alice"\n')
    assert "allowed_recipients = []" in dump_agent_config(load_agent_config('name = "alice"'))


@pytest.mark.parametrize(("text", "message"), [
    ('foo = 1', "foo: unknown key"),
    ('[restart]\npolcy = "always"', "restart.polcy: unknown key (did you mean 'policy'?)"),
    ('[[bind_mounts]]\nhost = "/a"\ntarget = "/mnt"\nmodee = "ro"',
     "bind_mounts[0].modee: unknown key (did you mean 'mode'?)"),
    ('[mcp_servers.x]\ncommand = "x"\nallowed_tool = []',
     "mcp_servers.x.allowed_tool: unknown key (did you mean 'allowed_tools'?)"),
    ('[limits]\nmemory = 1', "limits.memory: unknown key (did you mean 'memory_mb'?)"),
])
def test_unknown_keys_are_refused_by_name(text: str, message: str) -> None:
    assert refusal('name = "alice"\n' + text) == f"invalid agent.toml: {message}"


@pytest.mark.parametrize(("text", "message"), [
    ('restart = { policy = "sometimes" }',
     "restart.policy: must be 'on-failure', 'always' or 'never', not 'sometimes'"),
    ('restart = { delay_seconds = 99999 }', "restart.delay_seconds: should be less than or equal to 3600, not 99999"),
    ('restart = { max_restarts = 1.5 }', "restart.max_restarts: should be a valid integer, not 1.5"),
    ('restart = { window_seconds = 0 }', "restart.window_seconds: should be greater than 0, not 0"),
    ('restart = 5', "restart: should be a table, not 5"),
    ('network = "public"', "network: must be 'private' or 'host', not 'public'"),
    ('role = "manager"', "role: only 'hm1nd' has role 'manager', and it has no other role"),
    ('limits = { memory_mb = -1 }', "limits.memory_mb: should be greater than 0, not -1"),
    ('limits = { memory_mb = "4G" }', "limits.memory_mb: should be a valid integer, not '4G'"),
    ('env = { HOME = "/x" }', "env.HOME: invalid key: 'HOME' is set by the harness and may not be overridden"),
    ('env = { HYPERHIVE_SOCKET = "/x" }',
     "env.HYPERHIVE_SOCKET: invalid key: 'HYPERHIVE_SOCKET' is set by the harness and may not be overridden"),
    ('env = { ANTHROPIC_BASE_URL = "http://evil" }',
     "env.ANTHROPIC_BASE_URL: invalid key: 'ANTHROPIC_BASE_URL' is set by the harness and may not be overridden"),
    ('env = { "1BAD" = "x" }', "env.1BAD: invalid key: '1BAD' is not a valid environment variable name (letters, "
                               "digits, '_'; not starting with a digit)"),
    ('env = { A = 1 }', "env.A: should be a valid string, not 1"),
    ('[mcp_servers.hyperhive]\ncommand = "x"', "mcp_servers: 'hyperhive' is the hive's own MCP server"),
    ('[mcp_servers."bad name"]\ncommand = "x"',
     "mcp_servers.\"bad name\": invalid key: 'bad name' is not a valid MCP server name"),
    ('[mcp_servers.x]\nargs = []', "mcp_servers.x.command: required key is missing"),
    ('[mcp_servers.x]\ncommand = "x"\nallowed_tools = ["a b"]',
     "mcp_servers.x.allowed_tools[0]: 'a b' is not a valid tool name (or '*')"),
    ('[[bind_mounts]]\nhost = "srv"\ntarget = "/mnt"', "bind_mounts[0].host: 'srv' is not an absolute path"),
    ('[[bind_mounts]]\nhost = "/srv"\ntarget = "/run/hive/x"',
     "bind_mounts[0].target: '/run/hive/x' is reserved for the sandbox itself"),
    ('[[bind_mounts]]\nhost = "/srv"\ntarget = "/"', "bind_mounts[0].target: '/' is reserved for the sandbox itself"),
    ('[[bind_mounts]]\nhost = "/srv"\ntarget = "/mnt/../proc"', "bind_mounts[0].target: '/mnt/../proc' contains '..'"),
    ('[[bind_mounts]]\nhost = "/a"\ntarget = "/mnt"\nmode = "rwx"',
     "bind_mounts[0].mode: must be 'ro' or 'rw', not 'rwx'"),
    ('[[bind_mounts]]\nhost = "/a"\ntarget = "/mnt"\n[[bind_mounts]]\nhost = "/b"\ntarget = "/mnt/"',
     "bind_mounts: target '/mnt' is mounted twice"),
    ('allowed_recipients = ["Bob"]', "allowed_recipients[0]: invalid agent name 'Bob': use 1-9 characters, a "
                                     "lowercase letter first, then lowercase letters, digits or '-'"),
    ('allowed_recipients = ["bob", "bob"]', "allowed_recipients: 'bob' is listed twice"),
    ('model = "x"\navailable_models = ["y"]', "model: 'x' is not in available_models"),
    ('model = "--dangerous"', "model: '--dangerous' is not a valid model name"),
    ('parent = "alice"', "parent: an agent cannot be its own parent"),
    ('description = "a\\u0000b"', "description: may not contain a NUL character"),
])
def test_bad_values_are_refused_with_key_and_reason(text: str, message: str) -> None:
    assert refusal('name = "alice"\n' + text) == f"invalid agent.toml: {message}"


def test_every_issue_is_listed() -> None:
    text = 'name = "alice"\nrestart = { polcy = 1, delay_seconds = -1 }\nnetwork = "lan"'
    assert refusal(text) == ("invalid agent.toml: network: must be 'private' or 'host', not 'lan'; "
                             "restart.delay_seconds: should be greater than or equal to 0, not -1; "
                             "restart.polcy: unknown key (did you mean 'policy'?)")


def test_name_rules() -> None:
    assert refusal('description = "x"') == "invalid agent.toml: name: required key is missing"
    assert refusal('name = "Alice"').startswith("invalid agent.toml: name: invalid agent name 'Alice'")
    assert refusal('name = "all"') == "invalid agent.toml: name: agent name 'all' is reserved"
    assert refusal('name = "alice"', expected_name="bob") == (
        "invalid agent.toml: name: is 'alice', but this is the config of 'bob'")
    assert refusal('name = "hm1nd"\nrole = "agent"') == (
        "invalid agent.toml: role: only 'hm1nd' has role 'manager', and it has no other role")


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_agent_config('name = "alice"\nrole = agent\n', source="agent.toml at abc")
    assert caught.value.line == 2
    assert str(caught.value) == "invalid agent.toml at abc: not valid TOML: invalid value (at line 2, column 8)"


def test_oversized_file_is_refused() -> None:
    text = 'name = "alice"\n' + "# " + "x" * (256 * 1024) + "\n"
    assert refusal(text) == "invalid agent.toml: the file is larger than 262144 bytes"


def test_may_send_to() -> None:
    cfg = load_agent_config('name = "alice"\nallowed_recipients = ["bob"]')
    assert cfg.may_send_to("operator") and cfg.may_send_to("manager") and cfg.may_send_to("hm1nd")
    assert cfg.may_send_to("bob") and not cfg.may_send_to("carol") and not cfg.may_send_to("*")
    everyone = load_agent_config('name = "alice"\nallowed_recipients = ["*"]')
    assert everyone.may_send_to("carol") and everyone.may_send_to("*")


def test_template_is_valid_and_escapes_the_description() -> None:
    text = render_template("alice", 'says "hi"\nand $leaves')
    cfg = load_agent_config(text, expected_name="alice")
    assert cfg.description == 'says "hi"\nand $leaves'
    assert (cfg.role, cfg.model, cfg.allowed_recipients) == ("agent", DEFAULT_MODEL, [])
    with pytest.raises(InvalidName):
        render_template("../etc")


def test_manager_config() -> None:
    cfg = manager_config()
    assert isinstance(cfg, AgentConfig)
    assert (cfg.name, cfg.role, cfg.allowed_recipients, cfg.restart.policy) == ("hm1nd", "manager", ["*"], "always")
