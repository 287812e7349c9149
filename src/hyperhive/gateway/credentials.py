"""The hive's API credentials stay in the daemon. An agent's CLI gets a placeholder of the same kind
(so it talks in API-key or OAuth mode as the hive does); the gateway swaps the placeholder for the real
credential on the way out. Credentials an agent logged in with itself pass through untouched."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

PLACEHOLDER = "hive-gateway"
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
# Where the API is: the gateway's business, never an agent's.
ADDRESS_VARS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_UNIX_SOCKET")


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

    def swap(self, headers: MutableMapping[str, str]) -> None:
        if self.api_key and headers.get("x-api-key") == PLACEHOLDER:
            headers["x-api-key"] = self.api_key
        if self.bearer and headers.get("authorization") == f"Bearer {PLACEHOLDER}":
            headers["authorization"] = f"Bearer {self.bearer}"
