"""Requests on an agent's mcp.sock. The socket is the identity: no request names its sender."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .fields import Body, ReqId

MAX_RECV_WAIT_SECONDS = 180
MAX_RECV_BATCH = 32
MAX_SEND_BATCH = 1000


class AgentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    req_id: ReqId = None
    version: int | None = None


class Hello(AgentRequest):
    """Announces what is connecting (the turn loop, an MCP tool server, a peer's serve loop)."""

    cmd: Literal["hello"]
    role: Literal["harness", "mcp", "serve", "cli"]
    pid: int | None = None


class Whoami(AgentRequest):
    cmd: Literal["whoami"]


class Heartbeat(AgentRequest):
    cmd: Literal["heartbeat"]


class Send(AgentRequest):
    cmd: Literal["send"]
    to: str
    body: Body
    in_reply_to: int | None = None


class Outgoing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    to: str
    body: Body
    in_reply_to: int | None = None


class SendBatch(AgentRequest):
    """Many sends in one request and one transaction: all are stored, or none (the first bad one says why)."""

    cmd: Literal["send_batch"]
    messages: list[Outgoing] = Field(min_length=1, max_length=MAX_SEND_BATCH)


class Recv(AgentRequest):
    """Up to `max` messages; blocks up to `wait_seconds` when none is pending and wakes on arrival.

    Messages stay unacked until `ack` (or `ack: true` here); a connection that closes with unacked
    messages hands them back to the inbox, so a crash mid-turn redelivers them."""

    cmd: Literal["recv"]
    wait_seconds: float = Field(default=0, ge=0, le=MAX_RECV_WAIT_SECONDS)
    max: int = Field(default=MAX_RECV_BATCH, ge=1, le=MAX_RECV_BATCH)
    ack: bool = False


class Ack(AgentRequest):
    cmd: Literal["ack"]
    ids: list[int] = Field(min_length=1, max_length=1000)


class InboxStatus(AgentRequest):
    cmd: Literal["inbox_status"]


class SetStatus(AgentRequest):
    cmd: Literal["set_status"]
    text: str | None = Field(default=None, max_length=500)


AnyAgentRequest = Annotated[
    Hello | Whoami | Heartbeat | Send | SendBatch | Recv | Ack | InboxStatus | SetStatus,
    Field(discriminator="cmd"),
]
AGENT_REQUEST: TypeAdapter[AnyAgentRequest] = TypeAdapter(AnyAgentRequest)
