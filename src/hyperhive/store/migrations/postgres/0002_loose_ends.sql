-- Reminders and questions: the loose ends an agent leaves for later or for someone else.
CREATE TABLE reminders (
    id           BIGSERIAL PRIMARY KEY,
    agent        TEXT NOT NULL,
    body         TEXT NOT NULL,
    due_at       DOUBLE PRECISION NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    cancelled_at DOUBLE PRECISION,
    message_id   BIGINT
);
CREATE INDEX reminders_pending ON reminders (agent, due_at) WHERE delivered_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE questions (
    id          BIGSERIAL PRIMARY KEY,
    asker       TEXT NOT NULL,
    target      TEXT NOT NULL,
    question    TEXT NOT NULL,
    options     JSONB NOT NULL DEFAULT '[]',
    multi       BOOLEAN NOT NULL DEFAULT FALSE,
    asked_at    DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'expired', 'cancelled')),
    answer      TEXT,
    answered_by TEXT,
    answered_at DOUBLE PRECISION
);
CREATE INDEX questions_open ON questions (status, id);
