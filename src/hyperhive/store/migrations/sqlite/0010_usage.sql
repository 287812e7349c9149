-- One row per Claude API call through the gateway: who, which turn, which model, tokens by kind, cost.
-- Kept 400 days (pruned by the gateway at start and once a day).
CREATE TABLE usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    agent TEXT NOT NULL,
    turn INTEGER,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    priced INTEGER NOT NULL
);
CREATE INDEX usage_by_agent ON usage (agent, at);
CREATE INDEX usage_by_time ON usage (at);
