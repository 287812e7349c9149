"""One success shape and one error shape for every JSON route (the wire's envelope), and the HTTP status
each error code maps to. Tracebacks never leave the server."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hyperhive.protocol import ErrorCode, HiveError, InvalidName, error_response, ok_response

log = logging.getLogger(__name__)

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.LIMIT: 413,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}  # every other code is the caller's mistake: 400

Handler = Callable[[Request], Awaitable[BaseModel | dict[str, Any]]]


def ok_json(result: BaseModel | dict[str, Any]) -> JSONResponse:
    fields = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
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
