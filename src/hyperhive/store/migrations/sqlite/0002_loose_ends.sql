-- Reminders and questions: the loose ends an agent leaves for later or for someone else.
CREATE TABLE reminders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    agent        TEXT NOT NULL,
    body         TEXT NOT NULL,
    due_at       REAL NOT NULL,
    created_at   REAL NOT NULL,
    delivered_at REAL,
    cancelled_at REAL,
    message_id   INTEGER
);
CREATE INDEX reminders_pending ON reminders (agent, due_at) WHERE delivered_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE questions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    asker       TEXT NOT NULL,
    target      TEXT NOT NULL,
    question    TEXT NOT NULL,
    options     TEXT NOT NULL DEFAULT '[]',
    multi       INTEGER NOT NULL DEFAULT 0,
    asked_at    REAL NOT NULL,
    expires_at  REAL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'expired', 'cancelled')),
    answer      TEXT,
    answered_by TEXT,
    answered_at REAL
);
CREATE INDEX questions_open ON questions (status, id);
