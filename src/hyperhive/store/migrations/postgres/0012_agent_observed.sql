-- What an agent's sandbox is doing (running, stopped, failed, …) as its own node's supervisor last saw it,
-- so the other nodes' status rows show it; each change is pushed to them (NOTIFY hive_agents).
ALTER TABLE agents ADD COLUMN observed TEXT;
