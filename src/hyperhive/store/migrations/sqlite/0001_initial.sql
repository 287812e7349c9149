-- Agents, the durable broker's messages, and the event log.
CREATE TABLE agents (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('managed', 'peer')),
    description   TEXT NOT NULL DEFAULT '',
    parent        TEXT,
    paused        INTEGER NOT NULL DEFAULT 0,
    status_text   TEXT,
    status_set_at REAL,
    active_model  TEXT,
    deployed_sha  TEXT,
    needs_login   INTEGER NOT NULL DEFAULT 0,
    needs_update  INTEGER NOT NULL DEFAULT 0,
    last_seen     REAL,
    created_at    REAL NOT NULL
);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    body         TEXT NOT NULL,
    sent_at      REAL NOT NULL,
    delivered_at REAL,
    acked_at     REAL,
    in_reply_to  INTEGER,
    broadcast    INTEGER NOT NULL DEFAULT 0
);
-- The inbox query: a recipient's unacked messages in id order.
CREATE INDEX messages_unacked ON messages (recipient, id) WHERE acked_at IS NULL;
CREATE INDEX messages_recipient ON messages (recipient, id);

CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      REAL NOT NULL,
    agent   TEXT,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_agent ON events (agent, seq);
