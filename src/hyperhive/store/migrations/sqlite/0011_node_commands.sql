-- A node that stops cleanly says so; lifecycle verbs told to another node through the database. On SQLite
-- there is one node and nothing is ever written here: the tables keep both backends' schemas alike.
ALTER TABLE nodes ADD COLUMN stopped_at REAL;

CREATE TABLE node_commands (
    id          INTEGER PRIMARY KEY,
    node        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    verb        TEXT NOT NULL,
    args        TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'pending',
    error_code  TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    finished_at REAL
);
