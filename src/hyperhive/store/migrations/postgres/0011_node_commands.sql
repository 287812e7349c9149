-- A node that stops cleanly says so (its agents show node_offline at once rather than when its heartbeat
-- lapses); a beat clears it.
ALTER TABLE nodes ADD COLUMN stopped_at DOUBLE PRECISION;

-- Lifecycle verbs for an agent on another node: the caller's node writes a row (and NOTIFYs), the agent's
-- node claims it (pending -> running), carries it out and writes the outcome (done/failed); a row nobody
-- claimed in time is expired by the caller, so a node that comes back late never runs a stale verb.
CREATE TABLE node_commands (
    id          BIGSERIAL PRIMARY KEY,
    node        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    verb        TEXT NOT NULL,
    args        TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'pending',
    error_code  TEXT,
    error       TEXT,
    created_at  DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION
);

CREATE INDEX node_commands_pending ON node_commands (node, id) WHERE status = 'pending';
