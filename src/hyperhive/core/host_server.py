"""host.sock: the operator's socket (hivectl, scripts, clients of hyperhive v1)."""

from __future__ import annotations

import grp

from hyperhive.protocol.host_requests import HOST_REQUEST
from hyperhive.protocol.parsing import parse_request

from .lineserver import HOST_LIMITS, Connection, UnixLineServer
from .parts import HiveParts
from .verbs.host import HOST_VERBS

ADMIN_GROUP = "hive-admin"


class HostServer:
    def __init__(self, hive: HiveParts) -> None:
        self.hive = hive  # the host verbs' dispatch: the one place below the daemon that sees the whole hive
        group = ADMIN_GROUP if _group_exists(ADMIN_GROUP) else None
        self.server = UnixLineServer(hive.settings.host_socket, self.handle, mode=0o660, group=group,
                                     limits=HOST_LIMITS)

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def handle(self, conn: Connection, obj: dict[str, object]) -> dict[str, object] | None:
        """`obj`: the request line's JSON object, not yet read as a request."""
        request = parse_request(HOST_REQUEST, obj)
        return await HOST_VERBS.dispatch(self.hive, conn, request)


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
