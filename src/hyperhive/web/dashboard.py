"""The dashboard's state beside the hive: credentials, the live feed and what feeds it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .auth import Sessions, load_or_create_token
from .config import DashboardConfig
from .feed import LiveFeed
from .history import History
from .imagebuilds import BuildLogs
from .sources import FeedSources

if TYPE_CHECKING:
    from hyperhive.core.hive import Hive


class Dashboard:
    def __init__(self, hive: Hive, config: DashboardConfig | None = None) -> None:
        self.hive = hive
        self.config = config or DashboardConfig.from_settings(hive.settings)
        self.token = load_or_create_token(hive.settings.state_dir)
        self.sessions = Sessions(self.token)
        self.feed = LiveFeed()
        self.history = History(hive.store)
        self.sources = FeedSources(hive, self.feed, self.history)
        self.builds = BuildLogs(hive.images, self.feed)

    async def start(self) -> None:
        await self.sources.attach()
        self.builds.attach()

    async def close(self) -> None:
        self.feed.close()  # ends every open stream, so the server's shutdown does not wait on them
        await self.sources.close()
        await self.builds.close()
