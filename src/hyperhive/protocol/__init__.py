"""The wire protocol shared by daemon, harness, CLI and web. Imports no other hyperhive module."""

from .models import Event, Message, StatusRow, Urls, parse_rfc3339, rfc3339
from .names import BROADCAST, MANAGER_ALIAS, MANAGER_NAME, OPERATOR, InvalidName, check_agent_name
from .wire import (
    EXIT_CODES,
    MAX_BODY_BYTES,
    MAX_LINE_BYTES,
    SCHEMA_VERSION,
    ErrorCode,
    HiveError,
    decode_line,
    encode_line,
    error_response,
    ok_response,
)

__all__ = [
    "BROADCAST",
    "EXIT_CODES",
    "MANAGER_ALIAS",
    "MANAGER_NAME",
    "MAX_BODY_BYTES",
    "MAX_LINE_BYTES",
    "OPERATOR",
    "SCHEMA_VERSION",
    "ErrorCode",
    "Event",
    "HiveError",
    "InvalidName",
    "Message",
    "StatusRow",
    "Urls",
    "check_agent_name",
    "decode_line",
    "encode_line",
    "error_response",
    "ok_response",
    "parse_rfc3339",
    "rfc3339",
]
