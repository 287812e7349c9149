-- Mail for an agent that was purged is dropped, never handed to the next agent of that name: dropped_at
-- marks it (and it counts as acked, so no inbox offers it again).
ALTER TABLE messages ADD COLUMN dropped_at REAL;
-- Retention prunes delivered and acked mail and non-audit events by age.
CREATE INDEX messages_acked_at ON messages (acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX events_at ON events (at);
