"""Status rows: what `agent_status`, `subscribe_agent_status` and the dashboard say about an agent."""

from __future__ import annotations

from hyperhive.protocol import StatusRow, rfc3339
from hyperhive.store import AgentRecord

from .registry import AgentRegistry
from .states import ObservedState
from .turn_log import TurnSummary

FAILED_STATES = frozenset({ObservedState.FAILED})


def status_row(
    registry: AgentRegistry,
    agent: AgentRecord,
    *,
    unread: int,
    pending_reminders: int = 0,
    pending_approvals: int = 0,
    url: str | None = None,
    needs_update: bool = False,
    isolated: bool = True,
    turns: TurnSummary | None = None,
    budget_exhausted: bool = False,
    turn_cost_usd: float | None = None,
    node_offline: bool = False,
) -> StatusRow:
    if node_offline:  # its node's heartbeat lapsed: what it does there is unknown here
        state, running = "node_offline", False
    elif agent.kind == "peer":
        running = registry.present(agent.name)
        state = "online" if running else "offline"
    else:  # this node's supervisor's view; another node's agent: what its own node stored
        observed = registry.observed_state(agent.name) or _stored(agent.observed)
        state, running = observed.value, observed is ObservedState.RUNNING
    activity, detail = registry.activity(agent.name) or (None, None)
    return StatusRow(
        name=agent.name,
        kind=agent.kind,
        state=state,
        running=running,
        failed=state in FAILED_STATES,
        paused=agent.paused,
        needs_login=agent.needs_login,
        needs_update=needs_update or agent.needs_update,
        deployed_sha=agent.deployed_sha[:12] if agent.deployed_sha else None,
        active_model=agent.active_model,
        status_text=agent.status_text,
        status_set_at=rfc3339(agent.status_set_at) if agent.status_text is not None else None,
        pending_reminders=pending_reminders,
        pending_approvals=pending_approvals,
        unread=unread,
        last_seen=rfc3339(agent.last_seen),
        parent=agent.parent,
        node=agent.node,
        url=url,
        description=agent.description,
        activity=activity,
        activity_detail=detail,
        isolated=isolated,
        context_tokens=turns.context_tokens if turns else None,
        context_window=turns.context_window if turns else None,
        cost_usd_24h=turns.cost_usd_24h if turns else None,
        budget_exhausted=budget_exhausted,
        turn_cost_usd=turn_cost_usd,
        node_offline=node_offline,
    )


def _stored(observed: str | None) -> ObservedState:
    try:
        return ObservedState(observed) if observed else ObservedState.STOPPED
    except ValueError:  # written by a newer node
        return ObservedState.STOPPED
