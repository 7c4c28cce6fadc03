-- Nodes of a cluster of Sentral nodes sharing this database (package
-- cluster): each node upserts its row every heartbeat and deletes it when
-- it stops; a row not seen for a few seconds is a node that died.
CREATE TABLE cluster_nodes (
    name       TEXT PRIMARY KEY,
    sip_addr   TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL
);
