-- Agents, the durable broker's messages, and the event log. Times are Unix seconds (double precision),
-- as in the SQLite schema, so records read the same from either backend.
CREATE TABLE agents (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('managed', 'peer')),
    description   TEXT NOT NULL DEFAULT '',
    parent        TEXT,
    paused        BOOLEAN NOT NULL DEFAULT FALSE,
    status_text   TEXT,
    status_set_at DOUBLE PRECISION,
    active_model  TEXT,
    deployed_sha  TEXT,
    needs_login   BOOLEAN NOT NULL DEFAULT FALSE,
    needs_update  BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen     DOUBLE PRECISION,
    created_at    DOUBLE PRECISION NOT NULL
);

CREATE TABLE messages (
    id           BIGSERIAL PRIMARY KEY,
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    body         TEXT NOT NULL,
    sent_at      DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    acked_at     DOUBLE PRECISION,
    in_reply_to  BIGINT,
    broadcast    BOOLEAN NOT NULL DEFAULT FALSE
);
-- The inbox query: a recipient's unacked messages in id order.
CREATE INDEX messages_unacked ON messages (recipient, id) WHERE acked_at IS NULL;
CREATE INDEX messages_recipient ON messages (recipient, id);

CREATE TABLE events (
    seq     BIGSERIAL PRIMARY KEY,
    at      DOUBLE PRECISION NOT NULL,
    agent   TEXT,
    kind    TEXT NOT NULL,
    payload JSONB NOT NULL
);
CREATE INDEX events_agent ON events (agent, seq);
