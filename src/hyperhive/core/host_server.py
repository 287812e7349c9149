"""host.sock: the operator's socket (hivectl, scripts, clients of hyperhive v1)."""

from __future__ import annotations

import grp
from typing import Any

from hyperhive.protocol import ok_response
from hyperhive.protocol.host_requests import HOST_REQUEST, SubscribeAgentStatus
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

    async def handle(self, conn: Connection, obj: dict[str, Any]) -> dict[str, Any] | None:
        request = parse_request(HOST_REQUEST, obj)
        if isinstance(request, SubscribeAgentStatus):
            await self.stream_status(conn, request)
            return None
        result = await HOST_VERBS[type(request)](self.hive, request)
        return ok_response(request.req_id, **result)

    async def stream_status(self, conn: Connection, request: SubscribeAgentStatus) -> None:
        """One bare success line, then one line per changed agent. A slow reader misses intermediate
        states of a row (changes coalesce per agent) and never holds the daemon up."""
        subscriber = self.hive.registry.changes.subscribe()

        async def send_rows(names: list[str]) -> None:
            for name in names:
                row = await self.hive.status_row(name)
                if row is None:
                    line = ok_response(request.req_id, agent_statuses=[], removed=[name])
                else:
                    line = ok_response(request.req_id, agent_statuses=[row.model_dump(mode="json")])
                await conn.send(line)

        try:
            await conn.send(ok_response(request.req_id))
            await conn.stream_until_hangup(subscriber.next_batch, send_rows)
        finally:
            subscriber.close()


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
