"""A managed agent's two states, by name. The values are the strings the store, the wire and the dashboard
already carry (StrEnum), so naming them changes no byte anywhere.

- Wanted (`WantedState`, stored as the agent's `lifecycle`): what the operator or the hive asked for; a
  restarted daemon reads it to decide what to bring back.
- Observed (`ObservedState`, in memory, `AgentRegistry.observed_state`): what its sandbox is doing now, as
  the supervisor saw it; every change goes through `AgentRegistry.change_state`, which announces it.

The observed transitions (supervisor's process states are the model; each `change_state` call in
core/supervisor.py names its own):

    (none) -> RUNNING | STOPPED | FAILED | DESTROYED   (a daemon starts: adopted, or found so)
    (none) / STOPPED / EXITED / RESTARTING / FAILED -> STARTING -> RUNNING | FAILED
    RUNNING -> STOPPING -> STOPPED          (a stop or kill asked for)
    RUNNING -> STOPPED                      (an exit that was asked for)
    RUNNING -> EXITED                       (it ended on its own; the restart policy says stay down)
    RUNNING -> RESTARTING -> STARTING       (it ended on its own; restarted after the delay)
    RUNNING -> FAILED                       (it ended once more than the restart window allows)
    any -> DESTROYED                        (its sandbox removed; the record stays as a tombstone)
"""

from __future__ import annotations

from enum import StrEnum


class WantedState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"  # the restart policy gave up: stays down across daemon restarts until started
    DESTROYED = "destroyed"  # a tombstone until revived or purged


class ObservedState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    EXITED = "exited"  # ended on its own, and its restart policy does not bring it back
    RESTARTING = "restarting"  # ended on its own; a restart waits out its delay (supervisor's BACKOFF)
    FAILED = "failed"  # could not start, or crashed more often than its restart window allows
    DESTROYED = "destroyed"


# A sandbox that may be alive: a stop has something to stop.
LIVE_STATES = frozenset({ObservedState.STARTING, ObservedState.RUNNING, ObservedState.STOPPING})
