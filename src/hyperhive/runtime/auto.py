"""Picking a backend by name (the `runtime` setting)."""

from __future__ import annotations

from .base import Runtime
from .bwrap import BwrapRuntime
from .errors import RuntimeUnavailable
from .local import KeeperRuntime, LocalConfig
from .process import ProcessRuntime

RUNTIMES: dict[str, type[KeeperRuntime]] = {"bwrap": BwrapRuntime, "process": ProcessRuntime}
PLANNED = ("nspawn", "podman")


def make_runtime(kind: str, config: LocalConfig) -> Runtime:
    """The backend named `kind`. Raises RuntimeUnavailable for an unknown or unusable one."""
    backend = RUNTIMES.get(kind)
    if backend is None:
        if kind in PLANNED:
            raise RuntimeUnavailable(f"the {kind!r} runtime is not implemented yet; use 'bwrap' or 'process'")
        raise RuntimeUnavailable(f"unknown runtime {kind!r}; choose one of: {', '.join(RUNTIMES)}")
    return backend(config)
