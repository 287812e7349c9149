"""An approval's image build, live on the dashboard: its log followed with inotify (runtime/logfollow.py,
as `hivectl logs -f` does) and pushed on the feed under the topic `imagebuild`, never polled.

Each update is `{"approval", "agent", "offset", "end", "text"}`: complete lines, with the byte range of
the log they cover, so a page that loaded the log's tail in its snapshot (`details.log_tail`, up to
`details.log_end`) appends exactly what follows. `{"approval", "agent", "started": true}` announces a
build (the row is stored but has no card yet), `{"approval", "agent", "done": true}` its end; the
approval's own event then brings the card (built) or the failure (apt's sentence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from hyperhive.images.service import ApprovalBuild
from hyperhive.protocol.replies import Approval
from hyperhive.runtime.logfollow import LogFollower

if TYPE_CHECKING:
    from hyperhive.images.service import ImageService

    from .feed import LiveFeed

log = logging.getLogger(__name__)

TOPIC = "imagebuild"
TAIL_LINES = 60  # what a page loading mid-build shows of the log so far


class BuildRef(TypedDict):
    """Which build an `imagebuild` update is about; every update starts with it."""

    approval: int
    agent: str


class BuildLogs:
    """Follows every approval build the image service announces, while the dashboard runs."""

    def __init__(self, images: ImageService, feed: LiveFeed) -> None:
        self.images = images
        self.feed = feed
        self._unlisten: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self) -> None:
        self._unlisten = self.images.on_approval_build(self._started)

    async def close(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _started(self, build: ApprovalBuild) -> None:
        task = asyncio.create_task(self._follow(build), name=f"imagebuild-{build.approval_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, build: ApprovalBuild) -> None:
        who: BuildRef = {"approval": build.approval_id, "agent": build.agent}
        self.feed.publish(TOPIC, {**who, "started": True}, [build.agent])
        try:
            follower = LogFollower(build.log)
        except OSError:
            log.exception("approval #%d: its build log cannot be followed", build.approval_id)
            return
        stream = _LineStream(self.feed, who)
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        loop.add_reader(follower.fileno(), changed.set)
        done: asyncio.Future[Any] = asyncio.ensure_future(build.done.wait())
        try:
            before = follower.tail(1_000_000)  # what was written before we watched (a build already under way)
            stream.push("".join(f"{line}\n" for line in before).encode())
            while not done.done():
                woke = asyncio.ensure_future(changed.wait())
                await asyncio.wait({done, woke}, return_when=asyncio.FIRST_COMPLETED)
                woke.cancel()
                changed.clear()
                follower.take_events()
                stream.push(follower.read())
            stream.push(follower.read(), final=True)
        finally:
            done.cancel()
            loop.remove_reader(follower.fileno())
            follower.close()
            self.feed.publish(TOPIC, {**who, "done": True}, [build.agent])


class _LineStream:
    """Publishes whole lines with their byte offsets; a partial last line waits for its newline."""

    def __init__(self, feed: LiveFeed, who: BuildRef) -> None:
        self.feed = feed
        self.who = who
        self.offset = 0
        self.partial = b""

    def push(self, data: bytes, final: bool = False) -> None:
        data = self.partial + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        whole, self.partial = data[:cut], data[cut:]
        if whole:
            end = self.offset + len(whole)
            self.feed.publish(TOPIC, {**self.who, "offset": self.offset, "end": end,
                                      "text": whole.decode(errors="replace")}, [self.who["agent"]])
            self.offset = end


def with_build_logs(approvals: list[Approval]) -> list[Approval]:
    """Approvals (as the `pending` and `loose_ends` verbs give them), those still building with their
    log's tail and where it ends in their details: the snapshot a page starts from."""
    return [_with_build_log(a) for a in approvals]


def _with_build_log(approval: Approval) -> Approval:
    path = approval.details.get("image_log")
    if approval.details.get("image_build") != "building" or not isinstance(path, str):
        return approval
    tail, end = log_tail(Path(path))
    return approval.model_copy(update={"details": {**approval.details, "log_tail": tail, "log_end": end}})


def log_tail(path: Path, lines: int = TAIL_LINES) -> tuple[str, int]:
    """The last `lines` complete lines of the log, and the byte offset after them."""
    try:
        data = path.read_bytes()
    except OSError:
        return "", 0
    end = data.rfind(b"\n") + 1
    kept = data[:end].splitlines(keepends=True)[-lines:]
    return b"".join(kept).decode(errors="replace"), end
