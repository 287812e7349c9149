-- The node whose supervisor runs the agent (a hive over several hosts); null on rows made before nodes:
-- the node that opens the store first claims them.
ALTER TABLE agents ADD COLUMN node TEXT;
