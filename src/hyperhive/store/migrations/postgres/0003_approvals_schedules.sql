-- Operator approvals, and the scheduled prompts one kind of them creates.
CREATE TABLE approvals (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    agent        TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    commit_ref   TEXT,
    fetched_sha  TEXT,
    description  TEXT NOT NULL DEFAULT '',
    payload      JSONB NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'denied', 'failed', 'cancelled')),
    requested_at DOUBLE PRECISION NOT NULL,
    resolved_at  DOUBLE PRECISION,
    note         TEXT,
    -- approved work (a deploy) that has run to its end; approved and not done = resume after a restart
    done_at      DOUBLE PRECISION
);
CREATE INDEX approvals_status ON approvals (status, id);

CREATE TABLE schedules (
    id               BIGSERIAL PRIMARY KEY,
    targets          JSONB NOT NULL,
    body             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    first_fire_at    DOUBLE PRECISION NOT NULL,
    next_fire_at     DOUBLE PRECISION,
    interval_seconds DOUBLE PRECISION,
    status           TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'active', 'paused', 'cancelled', 'done')),
    created_by       TEXT NOT NULL,
    approval_id      BIGINT,
    created_at       DOUBLE PRECISION NOT NULL,
    last_fired_at    DOUBLE PRECISION,
    fire_count       INTEGER NOT NULL DEFAULT 0
);
