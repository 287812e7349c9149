"""`hive-ag3nt serve`: a peer's presence in the hive, without a turn loop.

It keeps a connection (and a heartbeat for `last_seen`) on the peer's socket, comes back by itself when
hive-c0re restarts, and can run a command on new mail so the person's own Claude Code hears of it. The
peer's Claude Code reaches the hive through `hive-ag3nt mcp`, added with `claude mcp add`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from hyperhive.client import Unreachable, stream
from hyperhive.protocol.replies import InboxNews, Newest

from .link import HiveLink
from .reconnect import Reconnect

log = logging.getLogger(__name__)


class PeerServe:
    def __init__(self, socket: Path, heartbeat_seconds: float = 15.0, on_mail: str | None = None) -> None:
        self.socket = socket
        self.heartbeat_seconds = heartbeat_seconds
        self.on_mail = on_mail
        self.presence = HiveLink(socket, role="serve")
        self._told: int = -1  # the newest message id the hook ran for; -1: none yet

    async def run(self) -> None:
        me = await self.presence.call("whoami")
        log.info("serving as %s (%s) on %s", me["name"], me["kind"], self.socket)
        tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.presence.close()

    async def _heartbeat(self) -> None:
        while True:
            await self.presence.call("heartbeat")  # reconnects (and says hello) after a daemon restart
            await asyncio.sleep(self.heartbeat_seconds)

    async def _watch(self) -> None:
        """Follow arrivals; a lost stream means the daemon went away: get presence back at once."""
        reconnect = Reconnect(self.socket)
        while True:
            try:
                async for line in stream(self.socket, "watch_inbox"):
                    reconnect.done()
                    if "unread" not in line:
                        continue  # the bare `ok` that opens the stream
                    news = InboxNews.model_validate(line)
                    if news.newest and news.newest.id > self._told:
                        await self._notify(news.newest, news.unread)
            except Unreachable:
                await reconnect.pause()
                with contextlib.suppress(Unreachable):
                    await self.presence.call("heartbeat")

    async def _notify(self, newest: Newest, unread: int) -> None:
        """Once per new message, also for one that came while the stream was down (seen on reconnect)."""
        self._told = newest.id
        log.info("new mail #%s from %s (%s unread)", newest.id, newest.sender, unread)
        if not self.on_mail:
            return
        env = {**os.environ, "HIVE_MAIL_ID": str(newest.id), "HIVE_MAIL_FROM": newest.sender,
               "HIVE_MAIL_PREVIEW": newest.preview, "HIVE_MAIL_UNREAD": str(unread)}
        process = await asyncio.create_subprocess_shell(self.on_mail, env=env, stdin=asyncio.subprocess.DEVNULL)
        code = await process.wait()
        if code != 0:
            log.warning("the on-mail command exited with %d", code)
