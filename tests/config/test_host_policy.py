"""host.toml: the host's limits on every agent config; bind mounts resolved and kept under allowed roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hyperhive.config import (
    AgentConfig,
    BindMount,
    ConfigError,
    HostPolicy,
    LimitValues,
    PolicyError,
    check_against_policy,
    effective_limits,
    effective_network,
    load_agent_config,
    load_host_policy,
    policy_violations,
    resolve_bind_source,
)


@pytest.fixture
def host(short_tmp: Path) -> Path:
    """<tmp>/share (the bind root) with news/ and a symlink escape -> <tmp>/secret; <tmp>/state (the hive's)."""
    for directory in ("share/news", "secret", "state/agents"):
        (short_tmp / directory).mkdir(parents=True)
    (short_tmp / "share" / "escape").symlink_to(short_tmp / "secret")
    (short_tmp / "share" / "inside").symlink_to(short_tmp / "share" / "news")
    (short_tmp / "share" / "hive").symlink_to(short_tmp / "state")
    return short_tmp


def mounting(host_path: str) -> AgentConfig:
    return load_agent_config(f'name = "alice"\n[[bind_mounts]]\nhost = "{host_path}"\ntarget = "/mnt/x"')


def policy_for(host: Path) -> HostPolicy:
    return HostPolicy(bind_roots=[str(host / "share")])


def test_no_host_toml_means_the_defaults(host: Path) -> None:
    policy = load_host_policy(host / "state", environ={})
    assert policy == HostPolicy()
    assert (policy.default_limits.memory_mb, policy.default_limits.cpu_percent) == (4096, 200)
    assert (policy.bind_roots, policy.default_network, policy.allowed_models) == ([], "private", [])


def test_host_toml_is_read_from_the_state_dir(host: Path) -> None:
    (host / "state" / "host.toml").write_text(
        'bind_roots = ["/srv/hive"]\ndefault_network = "host"\n[max_limits]\nmemory_mb = 8192\n')
    policy = load_host_policy(host / "state", environ={})
    assert (policy.bind_roots, policy.default_network, policy.max_limits.memory_mb) == (["/srv/hive"], "host", 8192)
    assert policy.max_limits.cpu_percent == 800  # keys left out keep their defaults


def test_env_names_another_host_toml(host: Path) -> None:
    other = host / "elsewhere.toml"
    other.write_text('allowed_models = ["claude-sonnet-4-5"]\n')
    assert load_host_policy(host / "state", environ={"HYPERHIVE_HOST_TOML": str(other)}).allowed_models == [
        "claude-sonnet-4-5"]
    with pytest.raises(ConfigError) as caught:
        load_host_policy(host / "state", environ={"HYPERHIVE_HOST_TOML": str(host / "missing.toml")})
    assert str(caught.value) == (f"invalid {host}/missing.toml: HYPERHIVE_HOST_TOML names a file that does not exist")


@pytest.mark.parametrize(("text", "message"), [
    ('bind_root = ["/srv"]', "bind_root: unknown key (did you mean 'bind_roots'?)"),
    ('bind_roots = ["srv"]', "bind_roots[0]: 'srv' is not an absolute path"),
    ('[default_limits]\nmemory_mb = 99999', "default_limits.memory_mb: is over max_limits.memory_mb"),
    ('default_network = "host"\nallowed_networks = ["private"]', "default_network: is not in allowed_networks"),
    ('allowed_runtimes = ["docker"]',
     "allowed_runtimes[0]: must be 'bwrap', 'process', 'nspawn' or 'podman', not 'docker'"),
])
def test_bad_host_toml_names_the_key(host: Path, text: str, message: str) -> None:
    path = host / "state" / "host.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_host_policy(host / "state", environ={})
    assert str(caught.value) == f"invalid {path}: {message}"


def test_effective_limits_and_network() -> None:
    policy = HostPolicy()
    cfg = load_agent_config('name = "alice"\n[limits]\nmemory_mb = 1024')
    assert effective_limits(cfg, policy) == LimitValues(memory_mb=1024, cpu_percent=200, pids=1024)
    assert effective_network(cfg, policy) == "private"
    assert effective_network(load_agent_config('name = "alice"\nnetwork = "host"'), policy) == "host"


def test_limits_network_models_and_runtime_are_checked() -> None:
    policy = HostPolicy(allowed_networks=["private"], allowed_models=["claude-sonnet-4-5"],
                        allowed_runtimes=["bwrap"])
    cfg = load_agent_config('name = "alice"\nnetwork = "host"\nmodel = "claude-opus-4-1"\n'
                            'available_models = ["claude-opus-4-1", "claude-sonnet-4-5"]\npackages = ["ripgrep"]\n'
                            '[limits]\nmemory_mb = 32768\ncpu_percent = 800\npids = 5000')
    assert policy_violations(cfg, policy, runtime="process") == [
        "limits.memory_mb: 32768 is over the host's ceiling of 16384",
        "limits.pids: 5000 is over the host's ceiling of 4096",
        "network: 'host' is not allowed on this host",
        "model: 'claude-opus-4-1' is not allowed on this host",
        "available_models: 'claude-opus-4-1' is not allowed on this host",
        "runtime 'process' is not allowed by host.toml allowed_runtimes",
        "packages: the 'process' runtime builds no images",
    ]
    with pytest.raises(PolicyError) as caught:
        check_against_policy(cfg, policy)
    assert str(caught.value).startswith("the host policy refuses the config of 'alice': limits.memory_mb: ")
    check_against_policy(load_agent_config('name = "alice"'), policy, runtime="bwrap")  # no violation: no raise


@pytest.mark.parametrize(("written", "resolved"), [
    ("share/news", "share/news"),
    ("share/inside", "share/news"),  # a symlink that stays inside the root
    ("share/news/../news", "share/news"),  # a '..' that stays inside the root
    ("share", "share"),
])
def test_bind_mount_under_a_root_is_allowed(host: Path, written: str, resolved: str) -> None:
    cfg = mounting(str(host / written))
    assert policy_violations(cfg, policy_for(host)) == []
    assert resolve_bind_source(cfg.bind_mounts[0], policy_for(host)) == host / resolved


def test_symlink_escape_is_refused(host: Path) -> None:
    cfg = mounting(f"{host}/share/escape")
    assert policy_violations(cfg, policy_for(host)) == [
        f"bind_mounts[0].host: '{host}/share/escape' is outside the allowed bind roots "
        f"(it resolves to '{host}/secret'); allowed: {host}/share"]


def test_dotdot_escape_is_refused(host: Path) -> None:
    cfg = mounting(f"{host}/share/../secret")
    assert cfg.bind_mounts[0].host == f"{host}/share/../secret"  # kept as written; resolved when checked
    assert policy_violations(cfg, policy_for(host)) == [
        f"bind_mounts[0].host: '{host}/share/../secret' is outside the allowed bind roots "
        f"(it resolves to '{host}/secret'); allowed: {host}/share"]


def test_dotdot_after_a_symlink_follows_the_kernel(host: Path) -> None:
    """`share/escape/..` is the parent of the symlink's target (<tmp>), not `share`: a lexical clean-up first
    would wrongly allow it."""
    cfg = mounting(f"{host}/share/escape/../share")
    assert policy_violations(cfg, policy_for(host)) == []  # <tmp>/share: inside after all
    cfg = mounting(f"{host}/share/escape/..")
    assert policy_violations(cfg, policy_for(host)) == [
        f"bind_mounts[0].host: '{host}/share/escape/..' is outside the allowed bind roots "
        f"(it resolves to '{host}'); allowed: {host}/share"]


def test_missing_path_and_no_roots_are_refused(host: Path) -> None:
    assert policy_violations(mounting(f"{host}/share/nope"), policy_for(host)) == [
        f"bind_mounts[0].host: '{host}/share/nope' does not exist on this host"]
    assert policy_violations(mounting(f"{host}/share/news"), HostPolicy()) == [
        f"bind_mounts[0].host: '{host}/share/news' is outside the allowed bind roots; "
        "allowed: none: host.toml sets no bind_roots"]


def test_the_hives_own_dirs_are_refused(host: Path) -> None:
    policy = HostPolicy(bind_roots=[str(host)])
    protected = (host / "state",)
    assert policy_violations(mounting(f"{host}/share/hive"), policy, protected_paths=protected) == [
        f"bind_mounts[0].host: '{host}/share/hive' reaches the hive's own '{host}/state' "
        f"(it resolves to '{host}/state')"]
    # a mount that contains the state dir reaches it too
    assert policy_violations(mounting(str(host)), policy, protected_paths=protected) == [
        f"bind_mounts[0].host: '{host}' reaches the hive's own '{host}/state'"]


def test_resolve_bind_source_checks_again_at_start(host: Path) -> None:
    """Approved while `link` pointed inside the root; swapped to point outside before the agent starts."""
    link = host / "share" / "link"
    link.symlink_to(host / "share" / "news")
    mount = BindMount(host=str(link), target="/mnt/x")
    policy = policy_for(host)
    assert resolve_bind_source(mount, policy) == host / "share" / "news"
    os.unlink(link)
    link.symlink_to(host / "secret")
    with pytest.raises(PolicyError) as caught:
        resolve_bind_source(mount, policy, agent="alice")
    assert str(caught.value) == (
        f"the host policy refuses the config of 'alice': bind mount of '/mnt/x': '{link}' is outside the allowed "
        f"bind roots (it resolves to '{host}/secret'); allowed: {host}/share")
