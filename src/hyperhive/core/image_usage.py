"""Which images the hive uses: every managed agent's deployed config and every pending config change
(its image is built before the card and must survive until the operator answers)."""

from __future__ import annotations

from hyperhive.images import ImageService
from hyperhive.protocol import rfc3339
from hyperhive.store import Store

from .configs import AgentConfigs
from .registry import AgentRegistry


class ImageUsage:
    def __init__(self, images: ImageService, registry: AgentRegistry, configs: AgentConfigs, store: Store) -> None:
        self.images = images
        self.registry = registry
        self.configs = configs
        self.store = store

    async def users(self) -> dict[str, list[str]]:
        """Image id → its users: agent names (a package-set image's agents also use its base), and `#<id>` of
        pending approvals whose image was built for the card. The current base is always listed."""
        users: dict[str, list[str]] = {(await self.images.plan([])).base.image_id: []}
        for agent in self.registry.all():
            config = self.configs.deployed(agent.name)
            if agent.kind != "managed" or config is None or agent.lifecycle == "destroyed":
                continue
            plan = await self.images.plan(config.packages)
            for image_id in {plan.base.image_id, plan.final.image_id}:
                users.setdefault(image_id, []).append(agent.name)
        for approval in await self.store.list_approvals("pending", None, None, 10_000):
            image = approval.payload.get("image")
            if isinstance(image, str):
                users.setdefault(image, []).append(f"#{approval.id}")
        return users

    async def in_use(self) -> set[str]:
        return set(await self.users())

    async def rows(self) -> list[dict[str, object]]:
        """`hivectl images`: every stored image with its own packages, disk use beyond its base, age and users."""
        users = await self.users()
        store = await self.images.store()
        rows: list[dict[str, object]] = []
        for info in store.all():
            base = store.get(info.inputs.base) if info.inputs.base else None
            own = [p for p in info.inputs.packages if base is None or p not in base.inputs.packages]
            rows.append({"id": info.image_id, "kind": "packages" if info.inputs.base else "base",
                         "packages": own if base is not None or not info.inputs.base else list(info.inputs.packages),
                         "own_mb": round(info.own_bytes / 1e6, 1), "built_at": rfc3339(info.built_at),
                         "users": sorted(users.get(info.image_id, []))})
        return rows
