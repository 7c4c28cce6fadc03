-- The console URL of each node: consoles on the other nodes point
-- operators at the node that holds the switchboard queues.
ALTER TABLE cluster_nodes ADD COLUMN console_url TEXT NOT NULL DEFAULT '';
