"""allowed_recipients, enforced here on every verb that carries an agent's text to another (send,
send_batch, broadcast, ask, answer, scheduled prompts): the socket names the sender, so no agent can widen
its own list from inside its sandbox (the original enforced it inside the sandbox, where the agent could).
The broker asks `refusal` for mail; questions call `require_may_send`, the same rule."""

from __future__ import annotations

from collections.abc import Callable

from hyperhive.broker import Broker
from hyperhive.config import AgentConfig
from hyperhive.protocol import BROADCAST, ErrorCode, HiveError


class ConfigRecipients:
    """The broker's RecipientPolicy: a managed agent's deployed agent.toml decides. The operator, the hive's
    own senders and peers (which have no agent.toml) may write to anyone."""

    def __init__(self, deployed: Callable[[str], AgentConfig | None]) -> None:
        self.deployed = deployed  # the agent's deployed agent.toml (Deployments.deployed)

    def refusal(self, sender: str, recipient: str) -> str | None:
        config = self.deployed(sender)
        if config is None or config.may_send_to(recipient):
            return None
        what = "broadcast" if recipient == BROADCAST else f"send to {recipient}"
        return (f"{sender} may not {what}: {recipient!r} is not in its allowed_recipients (agent.toml); "
                "ask the manager to add it")


def require_may_send(broker: Broker, sender: str, recipient: str) -> None:
    """Raise not_allowed when `sender`'s text may not reach `recipient` (the broker's own rule)."""
    refusal = broker.policy.refusal(sender, recipient)
    if refusal:
        raise HiveError(ErrorCode.NOT_ALLOWED, refusal)
