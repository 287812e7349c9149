-- Payloads are kept as they were written. JSONB reorders an object's keys (shorter keys first), so a
-- transcript reloaded from the store showed a tool's input in another order than the live feed did, and
-- differently from a hive on SQLite (which keeps the text). JSON keeps the text; nothing queries inside these
-- columns, so JSONB's operators and indexes are not needed.
ALTER TABLE events ALTER COLUMN payload TYPE JSON USING payload::json;
ALTER TABLE approvals ALTER COLUMN payload DROP DEFAULT;
ALTER TABLE approvals ALTER COLUMN payload TYPE JSON USING payload::json;
ALTER TABLE approvals ALTER COLUMN payload SET DEFAULT '{}';
ALTER TABLE turn_stats ALTER COLUMN tool_breakdown DROP DEFAULT;
ALTER TABLE turn_stats ALTER COLUMN tool_breakdown TYPE JSON USING tool_breakdown::json;
ALTER TABLE turn_stats ALTER COLUMN tool_breakdown SET DEFAULT '{}';
