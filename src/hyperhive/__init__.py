"""hyperhive: a persistent swarm of Claude Code agents on one host."""

__version__ = "0.1.0"
