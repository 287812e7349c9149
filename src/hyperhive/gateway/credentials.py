"""The hive's API credentials stay in the daemon. An agent's CLI gets a placeholder of the same kind
(so it talks in API-key or OAuth mode as the hive does); the gateway swaps the placeholder for the real
credential on the way out. Credentials an agent logged in with itself pass through untouched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PLACEHOLDER = "hive-gateway"
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
# Where the API is: the gateway's business, never an agent's.
ADDRESS_VARS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_UNIX_SOCKET")
_PLACEHOLDER = PLACEHOLDER.encode()
_BEARER_PLACEHOLDER = b"Bearer " + _PLACEHOLDER


@dataclass(frozen=True)
class HiveCredentials:
    api_key: str | None
    bearer: str | None
    given: tuple[str, ...]  # which variables the daemon was given (empty ones included)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HiveCredentials:
        bearer = environ.get("ANTHROPIC_AUTH_TOKEN") or environ.get("CLAUDE_CODE_OAUTH_TOKEN") or None
        return cls(environ.get("ANTHROPIC_API_KEY") or None, bearer,
                   tuple(v for v in CREDENTIAL_VARS if v in environ))

    def agent_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The placeholders, mirroring what the daemon has (an empty variable stays empty)."""
        return {var: PLACEHOLDER if environ.get(var) else "" for var in self.given}

    def swap(self, header: bytes, value: bytes) -> bytes:
        """A request header's value as it goes out: the placeholder replaced, anything else as it came."""
        if header == b"x-api-key" and self.api_key and value == _PLACEHOLDER:
            return self.api_key.encode("latin-1")
        if header == b"authorization" and self.bearer and value == _BEARER_PLACEHOLDER:
            return f"Bearer {self.bearer}".encode("latin-1")
        return value
