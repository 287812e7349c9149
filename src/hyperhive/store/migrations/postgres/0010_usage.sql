-- One row per Claude API call through the gateway: who, which turn, which model, tokens by kind, cost.
-- Kept 400 days (pruned by the gateway at start and once a day).
CREATE TABLE usage (
    id BIGSERIAL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    agent TEXT NOT NULL,
    turn BIGINT,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    priced BOOLEAN NOT NULL
);
CREATE INDEX usage_by_agent ON usage (agent, at);
CREATE INDEX usage_by_time ON usage (at);
