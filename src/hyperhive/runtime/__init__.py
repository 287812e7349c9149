"""Sandbox backends behind one interface (base.Runtime): bubblewrap and the plain process today.

The values and errors are exported here; the backends live in their modules (`runtime.auto.make_runtime`,
`runtime.bwrap.BwrapRuntime`, …) so that a keeper process, which imports this package, stays small.
"""

from .base import (
    ExitCallback,
    ExitInfo,
    LimitReport,
    Runtime,
    SandboxHandle,
    SandboxState,
    SandboxStatus,
    SandboxView,
)
from .errors import (
    RuntimeUnavailable,
    SandboxBusy,
    SandboxError,
    SandboxNotFound,
    SandboxSpecError,
    SandboxStartError,
)
from .spec import SANDBOX_HOME, SANDBOX_SOCKETS, Limits, Mount, SandboxSpec

__all__ = [
    "SANDBOX_HOME",
    "SANDBOX_SOCKETS",
    "ExitCallback",
    "ExitInfo",
    "LimitReport",
    "Limits",
    "Mount",
    "Runtime",
    "RuntimeUnavailable",
    "SandboxBusy",
    "SandboxError",
    "SandboxHandle",
    "SandboxNotFound",
    "SandboxSpec",
    "SandboxSpecError",
    "SandboxStartError",
    "SandboxState",
    "SandboxStatus",
    "SandboxView",
]
