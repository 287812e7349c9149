"""How a handler is tied to its verb: beside its definition, not in a list kept elsewhere.

`@answers(rq.Ping)` marks a function (or a method) that answers the request with the reply model the
request declares (mypy holds the handler to it); `@streams(rq.WatchInbox)` marks one that writes a stream of
lines on the connection itself. `VerbTable.collect` gathers the marks of a module or a class into the
table its socket dispatches on. docs/adding-a-verb.md shows the whole recipe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hyperhive.protocol import ok_response
from hyperhive.protocol.fields import Request
from hyperhive.protocol.replies import Reply

from ..lineserver import Connection

R = TypeVar("R", bound=Reply)
Answer = Callable[[Any, Any], Awaitable[Reply]]  # (hive or session, request) → its reply
Stream = Callable[[Any, Any, Any], Awaitable[None]]  # (hive or session, connection, request)
_ANSWERS = "__answers__"
_STREAMS = "__streams__"


def answers(*requests: type[Request[R]]) -> Callable[[Callable[[Any, Any], Awaitable[R]]],
                                                      Callable[[Any, Any], Awaitable[R]]]:
    """Several requests may share a handler when they differ by their verb's name only."""
    def mark(fn: Callable[[Any, Any], Awaitable[R]]) -> Callable[[Any, Any], Awaitable[R]]:
        setattr(fn, _ANSWERS, requests)
        return fn

    return mark


def streams(request: type[Request[Any]]) -> Callable[[Stream], Stream]:
    def mark(fn: Stream) -> Stream:
        setattr(fn, _STREAMS, (request,))
        return fn

    return mark


@dataclass(frozen=True)
class VerbTable:
    answers: dict[type[Request[Any]], Answer]
    streams: dict[type[Request[Any]], Stream]

    @classmethod
    def collect(cls, namespace: Mapping[str, object]) -> VerbTable:
        """The marked handlers of a module (`globals()`) or a class (`vars(Class)`); a verb marked twice is a
        bug caught at import."""
        table = cls({}, {})
        for fn in namespace.values():
            for attr, into in ((_ANSWERS, table.answers), (_STREAMS, table.streams)):
                for request in getattr(fn, attr, ()):
                    if request in table.answers or request in table.streams:
                        raise TypeError(f"{request.__name__} has two handlers")
                    into[request] = fn  # type: ignore[assignment]
        return table

    async def dispatch(self, target: object, conn: Connection, request: Request[Any]) -> dict[str, object] | None:
        """Run the request's handler on `target` (the hive, or an agent's session): a stream writes its own lines
        on the connection (None); an answer becomes its success line."""
        stream = self.streams.get(type(request))
        if stream is not None:
            await stream(target, conn, request)
            return None
        reply = await self.answers[type(request)](target, request)
        return ok_response(request.req_id, **reply.wire())

    def __contains__(self, request: type[Request[Any]]) -> bool:
        return request in self.answers or request in self.streams

    def __iter__(self) -> Iterator[type[Request[Any]]]:
        """The request-response verbs (the streams are in `streams`)."""
        return iter(self.answers)
