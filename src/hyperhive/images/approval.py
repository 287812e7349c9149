"""The approval hook: a config whose package set has no image yet gets it built after the commit is
fetched and validated and before the operator's card. While it builds, the approval's details name the
build log (`hivectl show-approval ID` prints it, live); a failed build fails the approval
(`failed/<id>`) with apt's own sentence, and the operator never sees a card."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from hyperhive.config import AgentConfig, AppliedRepo, ConfigError, RepoError, TagKind
from hyperhive.store import ApprovalRecord
from hyperhive.store.approvals import ApprovalStore

from .builder import ImageBuildError
from .service import ApprovalBuild, ImageService


@dataclass(frozen=True)
class ImageCard:
    """What the operator's card shows of the image: a line below the diff, and the approval's details."""

    note: str = ""
    details: dict[str, object] = field(default_factory=dict)


async def build_for_approval(images: ImageService, store: ApprovalStore, applied: AppliedRepo, approval_id: int,
                             sha: str) -> ImageCard:
    """Build the image the config at `sha` needs and describe it for the card (the package change and
    the image's size); empty when the runtime uses no images. Raises ImageBuildError (after tagging the
    proposal `failed/<id>`)."""
    if not images.enabled:
        return ImageCard()
    config = await asyncio.to_thread(applied.read_config_at, sha)
    before = await asyncio.to_thread(_deployed_packages, applied)
    plan = await images.plan(config.packages)
    image_store = await images.store()
    details: dict[str, object] = {"image": plan.final.image_id,
                                  "image_log": str(image_store.log_path(plan.final.image_id))}
    build = None
    if image_store.get(plan.final.image_id) is None:
        if plan.final.image_id not in images.building():  # a stale log (a failed or killed build) goes first
            await asyncio.to_thread(_fresh_log, image_store.log_path(plan.final.image_id))
        await store.update_approval(approval_id, payload={"image_build": "building", **details})
        build = ApprovalBuild(approval_id, applied.name, image_store.log_path(plan.final.image_id))
        images.announce(build)
    try:
        info = await images.ensure(config.packages)
    except ImageBuildError:
        with contextlib.suppress(RepoError):
            await asyncio.to_thread(applied.mark, TagKind.FAILED, approval_id)
        raise
    finally:
        if build is not None:
            build.done.set()
    change = package_change(before, config)
    mb = info.own_bytes / 1e6
    return ImageCard(f"\n\nimage {info.image_id}: {change}; {mb:.1f} MB on disk beyond the base",
                     {"image_build": "built", **details, "image_size_mb": round(mb, 1), "packages": change})


INTERRUPTED = "the hive stopped while this change's image was being built; ask again to build it anew"


async def fail_interrupted_builds(store: ApprovalStore, state_dir: Path) -> list[ApprovalRecord]:
    """At start, before the cards are loaded: a change whose image a dead daemon was building never got its
    card; it is failed (`failed/<id>`) with the reason, for the requester to ask again. The half-built
    tree was never renamed into place, and the next build of its id removes it."""
    failed = []
    for approval in await store.list_approvals("pending", "apply_commit", None, 100_000):
        if approval.payload.get("image_build") != "building":
            continue
        record = await store.resolve_approval(approval.id, "failed", INTERRUPTED, time.time(), done=True)
        if record is not None:
            with contextlib.suppress(RepoError):
                await asyncio.to_thread(_mark_failed, AppliedRepo(state_dir, approval.agent), approval)
            failed.append(record)
    return failed


def _mark_failed(applied: AppliedRepo, approval: ApprovalRecord) -> None:
    """`proposal/<id>` (the card never came, so it was never tagged) and `failed/<id>`: the audit trail."""
    if approval.fetched_sha:
        applied.tag_proposal(approval.id, approval.fetched_sha)
    applied.mark(TagKind.FAILED, approval.id)


def _fresh_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # followed (inotify on the dir) before the build makes it
    path.unlink(missing_ok=True)


def package_change(before: list[str], config: AgentConfig) -> str:
    added = [p for p in config.packages if p not in before]
    removed = [p for p in before if p not in config.packages]
    words = [f"+{p}" for p in added] + [f"-{p}" for p in removed]
    return " ".join(words) if words else "packages unchanged"


def _deployed_packages(applied: AppliedRepo) -> list[str]:
    try:
        deployed = applied.deployed_config()
    except (ConfigError, RepoError):
        return []
    return list(deployed.packages) if deployed else []


__all__ = ["ImageBuildError", "ImageCard", "build_for_approval", "fail_interrupted_builds"]
