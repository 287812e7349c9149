-- The nodes of a hive and their heartbeats, and leases on hive-wide duties (one holder at a time, with an
-- epoch that grows on every change of holder). Times are the database's clock, so nodes' clocks may differ.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at    DOUBLE PRECISION NOT NULL
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
