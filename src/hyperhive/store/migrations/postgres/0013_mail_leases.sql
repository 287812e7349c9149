-- A node's incarnation: one higher each time it starts. Mail in hand is leased to (node, incarnation) until
-- an expiry on the database's clock that the node's heartbeat pushes on; an ack from another holder, or from
-- an earlier incarnation of the same node, is refused.
ALTER TABLE nodes ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN lease_owner TEXT;
ALTER TABLE messages ADD COLUMN lease_epoch BIGINT;
ALTER TABLE messages ADD COLUMN lease_expires DOUBLE PRECISION;
CREATE INDEX messages_leased ON messages (lease_owner, lease_epoch) WHERE acked_at IS NULL AND lease_owner IS NOT NULL;
