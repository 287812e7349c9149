-- The nodes of a hive and their heartbeats, and leases on hive-wide duties (one holder at a time, with an
-- epoch that grows on every change of holder). On SQLite there is one node; the tables keep both backends'
-- schemas alike.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    seen_at    REAL NOT NULL
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
