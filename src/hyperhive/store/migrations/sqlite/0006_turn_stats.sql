-- One row per agent turn, kept 90 days: the stats windows (24 h, 7 d, 30 d) read these, not the transcript
-- events (which are bounded per agent and pruned far sooner on a busy agent).
CREATE TABLE turn_stats (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    agent                 TEXT NOT NULL,
    started_at            REAL NOT NULL,
    ended_at              REAL NOT NULL,
    model                 TEXT NOT NULL DEFAULT '',
    wake_from             TEXT,
    result_kind           TEXT NOT NULL DEFAULT '',
    ok                    INTEGER NOT NULL DEFAULT 1,
    duration_ms           INTEGER NOT NULL DEFAULT 0,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    context_tokens        INTEGER,
    context_window        INTEGER,
    cost_usd              REAL NOT NULL DEFAULT 0,
    tool_calls            INTEGER NOT NULL DEFAULT 0,
    tool_breakdown        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX turn_stats_agent ON turn_stats (agent, started_at);
CREATE INDEX turn_stats_started ON turn_stats (started_at);
