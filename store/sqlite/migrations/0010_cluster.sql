-- Nodes of a cluster (package cluster). Clustering needs PostgreSQL; the
-- table exists here too so both stores keep one schema version.
CREATE TABLE cluster_nodes (
    name       TEXT PRIMARY KEY,
    sip_addr   TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL
);
