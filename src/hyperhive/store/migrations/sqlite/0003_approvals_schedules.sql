-- Operator approvals, and the scheduled prompts one kind of them creates.
CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    agent        TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    commit_ref   TEXT,
    fetched_sha  TEXT,
    description  TEXT NOT NULL DEFAULT '',
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'denied', 'failed', 'cancelled')),
    requested_at REAL NOT NULL,
    resolved_at  REAL,
    note         TEXT,
    -- approved work (a deploy) that has run to its end; approved and not done = resume after a restart
    done_at      REAL
);
CREATE INDEX approvals_status ON approvals (status, id);

CREATE TABLE schedules (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    targets          TEXT NOT NULL,
    body             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    first_fire_at    REAL NOT NULL,
    next_fire_at     REAL,
    interval_seconds REAL,
    status           TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'active', 'paused', 'cancelled', 'done')),
    created_by       TEXT NOT NULL,
    approval_id      INTEGER,
    created_at       REAL NOT NULL,
    last_fired_at    REAL,
    fire_count       INTEGER NOT NULL DEFAULT 0
);
