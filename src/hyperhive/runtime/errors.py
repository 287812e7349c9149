"""Named errors of the runtime package. Each carries a stable `code` (for the wire, if the supervisor passes
one on) and a message that is one clear sentence naming the sandbox at fault."""

from __future__ import annotations

from typing import ClassVar


class SandboxError(RuntimeError):
    """Base of every error a runtime raises."""

    code: ClassVar[str] = "sandbox_error"


class SandboxSpecError(SandboxError, ValueError):
    """A spec the runtime refuses to run (a reserved mount target, a missing host path, …)."""

    code: ClassVar[str] = "invalid_sandbox_spec"


class SandboxNotFound(SandboxError):
    """No sandbox on record for the handle (never created, or destroyed)."""

    code: ClassVar[str] = "sandbox_not_found"


class SandboxBusy(SandboxError):
    """The sandbox is already running, so it cannot be started or re-created."""

    code: ClassVar[str] = "sandbox_running"


class SandboxStartError(SandboxError):
    """The sandbox could not be started; the message carries what its keeper or the backend said."""

    code: ClassVar[str] = "sandbox_start_failed"


class RuntimeUnavailable(SandboxError):
    """The backend cannot run on this host (no bwrap, no user namespaces, …); the message says why."""

    code: ClassVar[str] = "runtime_unavailable"
