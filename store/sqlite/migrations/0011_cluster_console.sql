-- The console URL of each node (package cluster); unused on SQLite.
ALTER TABLE cluster_nodes ADD COLUMN console_url TEXT NOT NULL DEFAULT '';
