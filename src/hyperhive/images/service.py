"""The daemon's side of images: which image an agent runs on, building it when missing (once, however
many ask), and the approval hook that builds a changed package set before the operator's card."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hyperhive.config import HostPolicy, load_host_policy

from .builder import ImageBuildError, LineSink, build_image
from .inputs import ImageInputs, host_apt_default
from .runtime_deps import runtime_packages
from .store import ImageInfo, ImageStore

log = logging.getLogger(__name__)

IMAGE_DIR_ENV = "HYPERHIVE_IMAGE_DIR"
IMAGE_RUNTIME = "bwrap"  # the runtime whose sandbox root is an image


@dataclass(frozen=True)
class ImagePlan:
    """The base every agent shares, and the agent's own package-set image if it lists packages."""

    base: ImageInputs
    own: ImageInputs | None

    @property
    def final(self) -> ImageInputs:
        return self.own or self.base


def image_dir(policy: HostPolicy, state_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(policy.image_dir or env.get(IMAGE_DIR_ENV) or state_dir / "images")


def plan_images(packages: list[str] | tuple[str, ...], policy: HostPolicy, runtime_pkgs: tuple[str, ...],
                refresh: str = "") -> ImagePlan:
    suite, mirror = host_apt_default()
    suite, mirror = policy.image_suite or suite, policy.image_mirror or mirror
    base_pkgs = tuple(sorted({*policy.image_base_packages, *runtime_pkgs}))
    base = ImageInputs(suite, mirror, base_pkgs, refresh=refresh)
    if not packages:
        return ImagePlan(base, None)
    own = ImageInputs(suite, mirror, tuple(sorted({*base_pkgs, *packages})), base=base.image_id, refresh=refresh)
    return ImagePlan(base, own)


@dataclass
class ApprovalBuild:
    """An approval's image being built: who follows its log (the dashboard) waits for `done`."""

    approval_id: int
    agent: str
    log: Path
    done: asyncio.Event = field(default_factory=asyncio.Event)


BuildListener = Callable[[ApprovalBuild], None]


class ImageService:
    def __init__(self, state_dir: Path, runtime: str, claude: Path | None) -> None:
        self.state_dir = state_dir
        self.enabled = runtime == IMAGE_RUNTIME
        self.claude = claude
        self._builds: dict[str, asyncio.Task[ImageInfo]] = {}
        self._watchers: dict[str, list[LineSink]] = {}
        self._build_listeners: list[BuildListener] = []

    def on_approval_build(self, listener: BuildListener) -> Callable[[], None]:
        """`listener` is called when an approval's image starts building; returns its removal."""
        self._build_listeners.append(listener)
        return lambda: self._build_listeners.remove(listener)

    def announce(self, build: ApprovalBuild) -> None:
        for listener in list(self._build_listeners):
            listener(build)

    async def policy(self) -> HostPolicy:
        return await asyncio.to_thread(load_host_policy, self.state_dir)

    async def store(self, policy: HostPolicy | None = None) -> ImageStore:
        return ImageStore(image_dir(policy or await self.policy(), self.state_dir))

    async def plan(self, packages: list[str] | tuple[str, ...], policy: HostPolicy | None = None) -> ImagePlan:
        policy = policy or await self.policy()
        runtime_pkgs = await asyncio.to_thread(runtime_packages, self.claude)
        return plan_images(packages, policy, runtime_pkgs, (await self.store(policy)).refresh_stamp)

    async def ensure(self, packages: list[str] | tuple[str, ...], on_line: LineSink | None = None) -> ImageInfo:
        """The complete image for `packages` (the base when empty), built first if missing. Raises
        ImageBuildError with apt's sentence."""
        policy = await self.policy()
        store = await self.store(policy)
        plan = await self.plan(packages, policy)
        base = await self._build(store, plan.base, on_line)
        if plan.own is None:
            return base
        return await self._build(store, plan.own, on_line)

    async def root_for(self, packages: list[str] | tuple[str, ...]) -> Path | None:
        """The sandbox root of an agent with `packages` (None: this runtime runs on the host's /usr)."""
        if not self.enabled:
            return None
        return (await self.ensure(packages)).root

    async def _build(self, store: ImageStore, inputs: ImageInputs, on_line: LineSink | None) -> ImageInfo:
        done = store.get(inputs.image_id)
        if done is not None:
            return done
        image_id = inputs.image_id
        if on_line is not None:
            self._watchers.setdefault(image_id, []).append(on_line)
        task = self._builds.get(image_id)
        if task is None:  # one build per id in this daemon; the flock covers other processes
            task = asyncio.create_task(build_image(store, inputs, on_line=lambda line: self._fan_out(image_id, line)))
            self._builds[image_id] = task
            task.add_done_callback(lambda _t: self._forget(image_id))
        return await asyncio.shield(task)

    def _fan_out(self, image_id: str, line: str) -> None:
        for sink in self._watchers.get(image_id, []):
            sink(line)

    def _forget(self, image_id: str) -> None:
        self._builds.pop(image_id, None)
        self._watchers.pop(image_id, None)

    def building(self) -> list[str]:
        return sorted(self._builds)

    async def refresh(self, stamp: str) -> None:
        """From now on every image is built anew from the mirror's current packages (security updates):
        the stamp is part of every image's inputs. Agents pick the new images up at their next start."""
        (await self.store()).set_refresh_stamp(stamp)

    async def needs_update(self, packages: list[str] | tuple[str, ...], started_on: Path | None) -> bool:
        """True when an agent started on image root `started_on` would now get another image (the base,
        the hive's runtime libraries, the mirror refresh or its packages changed). For core/status.py."""
        if not self.enabled or started_on is None:
            return False
        return (await self.plan(packages)).final.image_id != started_on.parent.name

    async def image_ids_for(self, package_sets: list[list[str]]) -> dict[str, int]:
        """Image id → how many of these package sets (one per agent or pending config) use it; a package
        set uses its own image and the base."""
        counts: dict[str, int] = {}
        for packages in package_sets:
            plan = await self.plan(packages)
            for inputs in {plan.base, plan.final}:
                counts[inputs.image_id] = counts.get(inputs.image_id, 0) + 1
        return counts


__all__ = ["ImageBuildError", "ImagePlan", "ImageService", "image_dir", "plan_images"]
