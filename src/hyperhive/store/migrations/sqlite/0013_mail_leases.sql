-- Mail leases (see the PostgreSQL twin): on SQLite there is one node and its broker holds mail in memory, so
-- these stay empty; the columns keep both backends' schemas alike.
ALTER TABLE nodes ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN lease_owner TEXT;
ALTER TABLE messages ADD COLUMN lease_epoch INTEGER;
ALTER TABLE messages ADD COLUMN lease_expires REAL;
