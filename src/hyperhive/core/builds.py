"""What an agent's sandbox runs, and whether a restart would run something else (`needs_update`).

A build is what the supervisor started the harness with: the config's digest (of the agent.toml it was
started on, so a deploy that is still starting does not count as outdated), the harness's version
(this hyperhive's), the Claude CLI's version, and the image (None until images exist: `image_of` is the
hook an image builder fills in). It is stored on the agent's record at each start, so a daemon that adopts
a sandbox after its own upgrade knows what that sandbox still runs."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import hyperhive
from hyperhive.config import AgentConfig, dump_agent_config

CLI_PACKAGE = "@anthropic-ai/claude-code"


@dataclass(frozen=True)
class Build:
    config: str | None
    harness: str
    cli: str | None
    image: str | None = None

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def load(cls, text: str | None) -> Build | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(data.get("config"), str(data.get("harness", "")), data.get("cli"), data.get("image"))
        except (ValueError, AttributeError):
            return None

    def differences(self, other: Build) -> list[str]:
        """What differs: config, harness, cli, image (a part unknown on either side is not compared)."""
        mine, theirs = asdict(self), asdict(other)
        return [key for key in mine if mine[key] is not None and theirs[key] is not None and mine[key] != theirs[key]]


def image_of(agent: str) -> str | None:
    """The hook for images: the image id a start of `agent` would use now (None: no images)."""
    return None


def build_for(config: AgentConfig | None, cli_path: Path | None, agent: str) -> Build:
    return Build(config_digest(config), hyperhive.__version__, cli_identity(cli_path), image_of(agent))


_digests: dict[int, tuple[AgentConfig, str]] = {}  # id → (the config, kept alive so the id stays its own)


def config_digest(config: AgentConfig | None) -> str | None:
    """A digest of the agent.toml a config dumps to; cached per config object (status rows ask often)."""
    if config is None:
        return None
    known = _digests.get(id(config))
    if known is not None and known[0] is config:
        return known[1]
    digest = hashlib.sha256(dump_agent_config(config).encode()).hexdigest()[:16]
    if len(_digests) >= 1024:
        _digests.clear()
    _digests[id(config)] = (config, digest)
    return digest


def cli_identity(path: Path | None) -> str | None:
    """The CLI's npm version when it is the npm package, else its file's identity (path, size, mtime): an
    upgraded CLI differs either way. Cached per file state, so a status row costs one stat."""
    if path is None:
        return None
    try:
        real = Path(os.path.realpath(path))
        stat = real.stat()
    except OSError:
        return None
    return _identity(real, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _identity(real: Path, size: int, mtime_ns: int) -> str:
    for folder in list(real.parents)[:4]:
        manifest = folder / "package.json"
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") == CLI_PACKAGE and data.get("version"):
            return f"{CLI_PACKAGE}@{data['version']}"
    return f"{real}:{size}:{mtime_ns}"
