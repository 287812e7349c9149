-- What a managed agent's sandbox was started with (config sha, harness and CLI versions, image), as JSON:
-- compared with what a restart would run now, it sets `needs_update` on the status row.
ALTER TABLE agents ADD COLUMN running_build TEXT;
