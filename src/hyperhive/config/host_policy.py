"""Host policy: what the host allows every agent config, whatever the manager proposes and the operator
approves. Agents never see it. It lives in `host.toml` in the state dir (or the file HYPERHIVE_HOST_TOML
names); without the file, the defaults below apply."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._toml import parse_toml, validate
from .agent_toml import AgentConfig
from .errors import ConfigError, ConfigIssue, KeyedValueError, PolicyError
from .fields import AbsPath, DebianPackage, ModelName, Network
from .sections import BindMount

HOST_TOML = "host.toml"
HOST_TOML_ENV = "HYPERHIVE_HOST_TOML"
Runtime = Literal["bwrap", "process", "nspawn", "podman"]
IMAGE_RUNTIMES: frozenset[str] = frozenset({"nspawn", "podman"})
PACKAGE_RUNTIMES: frozenset[str] = frozenset({"bwrap", "nspawn", "podman"})  # bwrap: see hyperhive.images

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)


class LimitValues(BaseModel):
    """A full set of resource limits: what the runtime applies to an agent."""

    model_config = _STRICT

    memory_mb: int = Field(gt=0)
    """Memory in MiB."""
    cpu_percent: int = Field(gt=0)
    """CPU in percent of one core."""
    pids: int = Field(gt=0)
    """Processes and threads."""


class DefaultLimits(LimitValues):
    """host.toml `[default_limits]`; keys left out keep these defaults."""

    memory_mb: int = Field(default=4096, gt=0)
    """Memory in MiB (default 4 GiB)."""
    cpu_percent: int = Field(default=200, gt=0)
    """CPU in percent of one core (default two cores)."""
    pids: int = Field(default=1024, gt=0)
    """Processes and threads."""


class MaxLimits(LimitValues):
    """host.toml `[max_limits]`; keys left out keep these defaults."""

    memory_mb: int = Field(default=16384, gt=0)
    """Memory in MiB."""
    cpu_percent: int = Field(default=800, gt=0)
    """CPU in percent of one core."""
    pids: int = Field(default=4096, gt=0)
    """Processes and threads."""


class HiveBudget(BaseModel):
    """host.toml `[budget]`: ceilings on the whole hive's spend, enforced by the API gateway like an agent's
    own `[budget]`. When one is spent, every agent's next call is refused until the window resets."""

    model_config = _STRICT

    daily_tokens: int | None = Field(default=None, gt=0)
    """Tokens per UTC day, all agents and token kinds together."""
    daily_usd: float | None = Field(default=None, gt=0)
    """Cost in USD per UTC day, all agents together."""
    monthly_usd: float | None = Field(default=None, gt=0)
    """Cost in USD per UTC calendar month, all agents together."""
    max_turns_per_hour: int | None = Field(default=None, gt=0)
    """The loop breaker's default for an agent whose `[budget]` leaves `max_turns_per_hour` unset."""


class NotifyConfig(BaseModel):
    """host.toml `[notify]`: where the hive tells the operator what needs a human (a question to the
    operator, an approval waiting, `needs_login`, a failed agent, a spent budget, mail to the operator)."""

    model_config = _STRICT

    webhooks: list[str] = []
    """ntfy-compatible URLs (e.g. `https://ntfy.sh/my-hive`): each gets a POST with the text as body and
    `Title` and `Priority` headers, retried with back-off; the daemon never waits for one."""
    retry_seconds: float = Field(default=2.0, gt=0, le=3600)
    """The first retry's delay; each further one waits twice as long."""
    attempts: int = Field(default=5, ge=1, le=20)
    """Tries per notification and webhook before it is given up (and logged)."""

    @field_validator("webhooks")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return urls


class HostPolicy(BaseModel):
    """The whole of host.toml."""

    model_config = _STRICT

    bind_roots: list[AbsPath] = []
    """Host directories under which bind mounts may lie (after resolving symlinks). Empty: no bind
    mounts at all."""
    default_limits: DefaultLimits = DefaultLimits()
    """Limits of an agent whose agent.toml leaves them unset."""
    max_limits: MaxLimits = MaxLimits()
    """Ceilings: the most an agent.toml may ask for."""
    default_network: Network = "private"
    """Network of an agent whose agent.toml leaves `network` unset."""
    allowed_networks: list[Network] = ["private", "host"]
    """Networks an agent.toml may ask for."""
    allowed_runtimes: list[Runtime] = ["bwrap", "process", "nspawn", "podman"]
    """Sandbox runtimes this host may run agents in."""
    allowed_models: list[ModelName] = []
    """Models agents may use (`model` and `available_models`). Empty: any."""
    budget: HiveBudget = HiveBudget()
    """Hive-wide spending ceilings: every agent's calls together (see `[budget]`)."""
    notify: NotifyConfig = NotifyConfig()
    """Webhooks for what needs the operator."""
    image_suite: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9.-]{0,63}$")
    """Debian suite agent images are built from (`bookworm`). Unset: the host's own, from its apt
    sources."""
    image_mirror: str | None = Field(default=None, pattern=r"^(https?|file)://[^\s]+$")
    """Debian mirror agent images are built from. Unset: the host's own, from its apt sources."""
    image_base_packages: list[DebianPackage] = ["ca-certificates", "git"]
    """Packages of the base image every agent runs on (besides Debian's essential set and the libraries
    the hive's runtime needs, which are always added)."""
    image_dir: AbsPath | None = None
    """Where images are stored. Unset: `$HYPERHIVE_IMAGE_DIR`, else `<state_dir>/images`."""
    image_grace_hours: float = Field(default=24.0, ge=0)
    """An image no deployed or pending config uses is removed this long after it fell out of use."""

    @model_validator(mode="after")
    def _consistent(self) -> HostPolicy:
        for key in LimitValues.model_fields:
            if getattr(self.default_limits, key) > getattr(self.max_limits, key):
                raise KeyedValueError(f"default_limits.{key}", "is over max_limits." + key)
        if self.default_network not in self.allowed_networks:
            raise KeyedValueError("default_network", "is not in allowed_networks")
        return self


def load_host_policy(state_dir: Path, environ: Mapping[str, str] | None = None) -> HostPolicy:
    """host.toml from HYPERHIVE_HOST_TOML if set (the file must then exist), else `<state_dir>/host.toml`
    if it exists, else the defaults. Raises ConfigError naming the bad key."""
    env = os.environ if environ is None else environ
    named = env.get(HOST_TOML_ENV)
    path = Path(named) if named else state_dir / HOST_TOML
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if named:
            missing = ConfigIssue("", f"{HOST_TOML_ENV} names a file that does not exist")
            raise ConfigError(str(path), [missing]) from None
        return HostPolicy()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot be read: {exc}")]) from None
    return validate(HostPolicy, parse_toml(text, str(path)), str(path))


def effective_limits(cfg: AgentConfig, policy: HostPolicy) -> LimitValues:
    """The limits the runtime applies: the agent's where set, the host's defaults elsewhere."""
    given = cfg.limits.model_dump(exclude_none=True)
    return LimitValues(**{**policy.default_limits.model_dump(), **given})


def effective_network(cfg: AgentConfig, policy: HostPolicy) -> Network:
    return cfg.network or policy.default_network


def policy_violations(
    cfg: AgentConfig,
    policy: HostPolicy,
    *,
    runtime: str | None = None,
    protected_paths: Sequence[Path] = (),
) -> list[str]:
    """Every way `cfg` breaks `policy`, one sentence each, naming the key. `runtime`: the runtime the agent
    would run in, if known. `protected_paths`: host paths no bind mount may reach into or contain (pass the
    state and runtime dirs: other agents' homes, credentials and sockets live there)."""
    found: list[str] = []
    for index, mount in enumerate(cfg.bind_mounts):
        problem = _mount_problem(mount, policy, protected_paths)
        if problem:
            found.append(f"bind_mounts[{index}].host: {problem}")
    ceilings = policy.max_limits
    for key, value in cfg.limits.model_dump(exclude_none=True).items():
        ceiling = getattr(ceilings, key)
        if value > ceiling:
            found.append(f"limits.{key}: {value} is over the host's ceiling of {ceiling}")
    network = effective_network(cfg, policy)
    if network not in policy.allowed_networks:
        found.append(f"network: {network!r} is not allowed on this host")
    found.extend(_model_problems(cfg, policy))
    found.extend(_runtime_problems(cfg, policy, runtime))
    return found


def check_against_policy(
    cfg: AgentConfig,
    policy: HostPolicy,
    *,
    runtime: str | None = None,
    protected_paths: Sequence[Path] = (),
) -> None:
    """Raise PolicyError listing every violation (see policy_violations)."""
    found = policy_violations(cfg, policy, runtime=runtime, protected_paths=protected_paths)
    if found:
        raise PolicyError(cfg.name, found)


def resolve_bind_source(
    mount: BindMount, policy: HostPolicy, protected_paths: Sequence[Path] = (), *, agent: str = "an agent"
) -> Path:
    """The resolved host path to mount, checked again now: a symlink may have changed since approval, so
    the runtime mounts this path, not `mount.host`. Raises PolicyError naming `agent`."""
    resolved, problem = _check_mount(mount, policy, protected_paths)
    if problem:
        raise PolicyError(agent, [f"bind mount of {mount.target!r}: {problem}"])
    return resolved


def _mount_problem(mount: BindMount, policy: HostPolicy, protected: Sequence[Path]) -> str | None:
    return _check_mount(mount, policy, protected)[1]


def _check_mount(mount: BindMount, policy: HostPolicy, protected: Sequence[Path]) -> tuple[Path, str | None]:
    """The host path resolved once (symlinks and `..` in the kernel's order), and what is wrong with it."""
    host = mount.host
    resolved = Path(os.path.realpath(host))
    if not host.startswith("/"):
        return resolved, f"{host!r} is not an absolute path"
    if not resolved.exists():
        return resolved, f"{host!r} does not exist on this host"
    via = "" if str(resolved) == host else f" (it resolves to {str(resolved)!r})"
    roots = [Path(os.path.realpath(root)) for root in policy.bind_roots]
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(policy.bind_roots) or "none: host.toml sets no bind_roots"
        return resolved, f"{host!r} is outside the allowed bind roots{via}; allowed: {allowed}"
    for path in protected:
        guarded = Path(os.path.realpath(path))
        if resolved == guarded or resolved.is_relative_to(guarded) or guarded.is_relative_to(resolved):
            return resolved, f"{host!r} reaches the hive's own {str(path)!r}{via}"
    return resolved, None


def _model_problems(cfg: AgentConfig, policy: HostPolicy) -> list[str]:
    if not policy.allowed_models:
        return []
    found = []
    if cfg.model not in policy.allowed_models:
        found.append(f"model: {cfg.model!r} is not allowed on this host")
    found.extend(f"available_models: {model!r} is not allowed on this host"
                 for model in cfg.available_models if model not in policy.allowed_models)
    return found


def _runtime_problems(cfg: AgentConfig, policy: HostPolicy, runtime: str | None) -> list[str]:
    if runtime is None:
        return []
    found = []
    if runtime not in policy.allowed_runtimes:
        found.append(f"runtime {runtime!r} is not allowed by host.toml allowed_runtimes")
    if runtime not in PACKAGE_RUNTIMES and cfg.packages:
        found.append(f"packages: the {runtime!r} runtime builds no images")
    if runtime not in IMAGE_RUNTIMES and cfg.image:
        found.append(f"image: the {runtime!r} runtime builds no images")
    return found

