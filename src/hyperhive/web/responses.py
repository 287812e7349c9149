"""One success shape and one error shape for every JSON route (the wire's envelope), and the HTTP status
each error code maps to. Tracebacks never leave the server."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hyperhive.protocol import ErrorCode, HiveError, InvalidName, error_response, ok_response
from hyperhive.protocol.replies import Reply

log = logging.getLogger(__name__)

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.LIMIT: 413,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}  # every other code is the caller's mistake: 400

# What a route answers: a verb's reply (its keys as on host.sock), a page's model, or a TypedDict's object.
Result = BaseModel | Mapping[str, object]
Handler = Callable[[Request], Awaitable[Result]]


def ok_json(result: Result) -> JSONResponse:
    if isinstance(result, Reply):
        fields = result.wire()
    elif isinstance(result, BaseModel):
        fields = result.model_dump(mode="json")
    else:
        fields = dict(result)
    return JSONResponse(ok_response(**fields))


def error_json(error: HiveError) -> JSONResponse:
    return JSONResponse(error_response(error.code, error.message), status_code=HTTP_STATUS.get(error.code, 400))


def as_hive_error(exc: Exception) -> HiveError:
    if isinstance(exc, HiveError):
        return exc
    if isinstance(exc, InvalidName):
        return HiveError(ErrorCode.INVALID_NAME, str(exc))
    log.exception("dashboard request failed", exc_info=exc)
    return HiveError(ErrorCode.INTERNAL, "the dashboard hit a bug; the hive-c0re log has the details")


def json_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        try:
            return ok_json(await handler(request))
        except Exception as exc:  # every failure becomes the error envelope
            return error_json(as_hive_error(exc))

    return route
