"""The runtime interface: one abstract `Runtime` and the plain values that cross it.

A backend runs sandboxes described by a `SandboxSpec` and names each by a `SandboxHandle`, a small value
that serializes to JSON: a daemon that restarted (even after kill -9) rebuilds the handle from its store or
from `Runtime.handles()` and goes on with `adopt`, `status`, `watch`, `stop`. Nothing here assumes the
sandbox runs on this host, so systemd-nspawn, podman or a cluster scheduler fit behind the same methods.
"""

from __future__ import annotations

import json
import signal as signals
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, TypedDict

from .spec import SandboxSpec

ExitCallback = Callable[["ExitInfo"], None]


class SandboxState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"  # created and never started, or ended after stop() or kill()
    EXITED = "exited"  # ended on its own: a crash, or a clean exit nobody asked for
    ABSENT = "absent"  # no record: never created, or destroyed


class ExitRecord(TypedDict):
    """`ExitInfo` as JSON: the keeper's exit.json."""

    returncode: int | None
    signal: int | None
    ended_at: float
    requested: bool
    detail: str


class LimitReportRecord(TypedDict):
    """`LimitReport` as JSON (in keeper.json and in the keeper's orders)."""

    applied: dict[str, str]
    unapplied: list[str]


@dataclass(frozen=True)
class ExitInfo:
    """How a sandbox's command ended. Exactly one of `returncode` and `signal` is set, unless the record
    of the end was lost (`detail` then says how)."""

    returncode: int | None
    signal: int | None
    ended_at: float
    requested: bool = False
    """True when it ended after a stop() or kill() (from this daemon or an earlier one)."""
    detail: str = ""

    def describe(self) -> str:
        if self.signal is not None:
            try:
                name = signals.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            text = f"killed by {name}"
        elif self.returncode is not None:
            text = f"exited with code {self.returncode}"
        else:
            text = "ended"
        return f"{text} ({self.detail})" if self.detail else text

    def to_dict(self) -> ExitRecord:
        return ExitRecord(returncode=self.returncode, signal=self.signal, ended_at=self.ended_at,
                          requested=self.requested, detail=self.detail)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitInfo:
        return cls(data.get("returncode"), data.get("signal"), float(data["ended_at"]),
                   bool(data.get("requested", False)), str(data.get("detail", "")))


@dataclass(frozen=True)
class LimitReport:
    """What became of the spec's limits: how each applied one is enforced, and one sentence for each that
    could not be applied as asked. Callers show `unapplied`; nothing is skipped silently."""

    applied: Mapping[str, str] = field(default_factory=dict)
    unapplied: tuple[str, ...] = ()

    def to_dict(self) -> LimitReportRecord:
        return {"applied": dict(self.applied), "unapplied": list(self.unapplied)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LimitReport:
        return cls(dict(data.get("applied", {})), tuple(data.get("unapplied", ())))


@dataclass(frozen=True)
class SandboxHandle:
    """Names one sandbox across daemon restarts. `ref` is the backend's own reference (a directory for
    the local backends; a container or job id elsewhere)."""

    runtime: str
    name: str
    ref: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxHandle:
        data = json.loads(text)
        return cls(str(data["runtime"]), str(data["name"]), str(data["ref"]))


@dataclass(frozen=True)
class SandboxStatus:
    state: SandboxState
    exit: ExitInfo | None = None
    """Set once a run has ended (STOPPED after a run, EXITED)."""
    started_at: float | None = None
    pid: int | None = None
    """Host pid of the sandbox's outermost process (for display; never signal it yourself)."""
    limits: LimitReport | None = None
    warning: str | None = None
    """The backend's warning (see Runtime.warning), for the status row."""


@dataclass(frozen=True)
class SandboxView:
    """Where the sandbox sees its home and socket dir: use these to build argv and env."""

    home: str
    sockets: str


class Runtime(ABC):
    """A sandbox backend. Every method takes a handle from `create` (or from a stored one, after a daemon
    restart); all state lives with the sandbox, not in this object, so a fresh instance can adopt what an
    earlier daemon started."""

    kind: ClassVar[str]

    @property
    def warning(self) -> str | None:
        """A sentence callers show on start and on the status row when the backend does not isolate."""
        return None

    @abstractmethod
    def view(self, state_dir: Path, socket_dir: Path) -> SandboxView:
        """Paths as the sandbox will see them, given the host's."""

    @abstractmethod
    async def create(self, spec: SandboxSpec) -> SandboxHandle:
        """Record (or replace) what the sandbox runs, without starting it. Raises SandboxSpecError, or
        SandboxBusy when it is running."""

    @abstractmethod
    async def start(self, handle: SandboxHandle) -> SandboxStatus:
        """Start the created sandbox; returns once it runs. Raises SandboxBusy, SandboxStartError."""

    @abstractmethod
    async def stop(self, handle: SandboxHandle, timeout: float) -> ExitInfo | None:
        """SIGTERM to the sandbox's command, then SIGKILL to the whole sandbox after `timeout` seconds.
        Returns how it ended (None if it never ran)."""

    @abstractmethod
    async def kill(self, handle: SandboxHandle) -> ExitInfo | None:
        """SIGKILL the whole sandbox now."""

    @abstractmethod
    async def status(self, handle: SandboxHandle) -> SandboxStatus: ...

    async def adopt(self, handle: SandboxHandle) -> SandboxStatus:
        """Take over a sandbox an earlier daemon started: its status, with exits noticed from now on (via
        `watch` or `wait_exit`). One that ended meanwhile comes back STOPPED or EXITED with its ExitInfo."""
        return await self.status(handle)

    @abstractmethod
    def watch(self, handle: SandboxHandle, on_exit: ExitCallback) -> Callable[[], None]:
        """Call `on_exit` once, from the event loop, as soon as the current run ends (at once if it has
        ended). Returns a function that cancels the watch. Needs a running event loop."""

    @abstractmethod
    async def wait_exit(self, handle: SandboxHandle) -> ExitInfo:
        """Wait until the current run ends. Raises SandboxNotFound if it was never started."""

    @abstractmethod
    async def logs(self, handle: SandboxHandle, lines: int) -> list[str]:
        """The last `lines` lines of the command's output."""

    @abstractmethod
    async def destroy(self, handle: SandboxHandle, timeout: float = 10.0) -> None:
        """Stop it (see `stop`) and remove the runtime's records of it. The state dir and logs stay."""

    @abstractmethod
    async def handles(self) -> list[SandboxHandle]:
        """Every sandbox this backend has on record, running or not."""
