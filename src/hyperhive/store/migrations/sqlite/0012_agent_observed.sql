-- What an agent's sandbox is doing as its own node's supervisor last saw it (read by other nodes of a hive
-- on PostgreSQL; on one host the supervisor's own view is used).
ALTER TABLE agents ADD COLUMN observed TEXT;
