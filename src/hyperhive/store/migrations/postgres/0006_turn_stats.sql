-- One row per agent turn, kept 90 days: the stats windows (24 h, 7 d, 30 d) read these, not the transcript
-- events (which are bounded per agent and pruned far sooner on a busy agent).
CREATE TABLE turn_stats (
    id                    BIGSERIAL PRIMARY KEY,
    agent                 TEXT NOT NULL,
    started_at            DOUBLE PRECISION NOT NULL,
    ended_at              DOUBLE PRECISION NOT NULL,
    model                 TEXT NOT NULL DEFAULT '',
    wake_from             TEXT,
    result_kind           TEXT NOT NULL DEFAULT '',
    ok                    BOOLEAN NOT NULL DEFAULT TRUE,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens     BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    context_tokens        BIGINT,
    context_window        BIGINT,
    cost_usd              DOUBLE PRECISION NOT NULL DEFAULT 0,
    tool_calls            INTEGER NOT NULL DEFAULT 0,
    tool_breakdown        JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX turn_stats_agent ON turn_stats (agent, started_at);
CREATE INDEX turn_stats_started ON turn_stats (started_at);
