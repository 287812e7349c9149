-- Config between nodes (a hive over several hosts): the node that carries out an approval's work (the agent's
-- node; null on rows from before nodes: any node), and the approved commit as a git bundle, stored with the
-- approval so that the agent's node can deploy it without any shared filesystem. A bundle is dropped once
-- its approval's work is done.
ALTER TABLE approvals ADD COLUMN node TEXT;
CREATE TABLE approval_bundles (
    approval_id INTEGER PRIMARY KEY REFERENCES approvals (id) ON DELETE CASCADE,
    sha         TEXT NOT NULL,
    bundle      BLOB NOT NULL
);
