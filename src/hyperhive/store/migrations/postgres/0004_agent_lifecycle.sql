-- What the operator wants of a managed agent (running, stopped, destroyed), so a restarted daemon knows
-- which agents to bring back and which tombstones to keep.
ALTER TABLE agents ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'stopped';
