"""Storage of operator approvals. Status changes are conditional updates, so two racing approvals of one id
cannot both win."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from .records import ApprovalRecord, ApprovalStatus


class ApprovalStore(ABC):
    @abstractmethod
    async def add_approval(self, kind: str, agent: str, requested_by: str, *, commit_ref: str | None,
                           fetched_sha: str | None, description: str, payload: Mapping[str, object],
                           status: ApprovalStatus, at: float, note: str | None = None,
                           node: str | None = None) -> ApprovalRecord:
        """`node`: the node that carries out the approved work (None: any)."""

    @abstractmethod
    async def get_approval(self, approval_id: int) -> ApprovalRecord | None: ...

    @abstractmethod
    async def list_approvals(self, status: ApprovalStatus | None = None, kind: str | None = None,
                             agent: str | None = None, limit: int = 200) -> list[ApprovalRecord]:
        """Newest first."""

    @abstractmethod
    async def resolve_approval(self, approval_id: int, status: ApprovalStatus, note: str | None, at: float,
                               *, done: bool = False) -> ApprovalRecord | None:
        """pending → `status`; None when it was not pending (someone resolved it first)."""

    @abstractmethod
    async def finish_approval(self, approval_id: int, status: ApprovalStatus, note: str | None, at: float,
                              payload: Mapping[str, object] | None = None) -> ApprovalRecord:
        """Record the end of approved work (a deploy): its final status and note."""

    @abstractmethod
    async def update_approval(self, approval_id: int, *, payload: Mapping[str, object] | None = None,
                              fetched_sha: str | None = None) -> None: ...

    # --- the approved commit as a git bundle, carried to the agent's node (a hive over several hosts) ---
    @abstractmethod
    async def put_approval_bundle(self, approval_id: int, sha: str, bundle: bytes) -> None:
        """Store (or replace) the bundle that carries commit `sha` for the approval."""

    @abstractmethod
    async def get_approval_bundle(self, approval_id: int) -> tuple[str, bytes] | None:
        """(sha, bundle) stored with the approval, or None."""

    @abstractmethod
    async def drop_approval_bundle(self, approval_id: int) -> None: ...
