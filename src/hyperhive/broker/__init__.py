"""The durable push broker: inboxes per recipient, send/recv/ack, allowed-recipient checks."""

from .broker import AllowAll, Broker, Directory, RecipientPolicy
from .inboxes import Lease

__all__ = ["AllowAll", "Broker", "Directory", "Lease", "RecipientPolicy"]
