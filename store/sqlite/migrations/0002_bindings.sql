-- Sentral schema, version 2 (SQLite): registrations. Keep it logically
-- identical to store/postgres/migrations/0002_bindings.sql.
--
-- One row per binding, identified within its AOR by key (store.BindingKey).
-- The foreign key makes the database delete the bindings of a deleted
-- extension (and so of a deleted tenant); ON UPDATE CASCADE only covers a
-- Save racing a renumbering, which deletes the old number's bindings first.
-- path is a JSON array of the Path header values, in order.

CREATE TABLE bindings (
    tenant_id  INTEGER NOT NULL,
    number     TEXT NOT NULL,
    key        TEXT NOT NULL,
    contact    TEXT NOT NULL,
    instance   TEXT NOT NULL DEFAULT '',
    reg_id     INTEGER NOT NULL DEFAULT 0,
    q          REAL NOT NULL DEFAULT 1,
    expires    TIMESTAMP NOT NULL,
    call_id    TEXT NOT NULL DEFAULT '',
    cseq       INTEGER NOT NULL DEFAULT 0,
    user_agent TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL DEFAULT '',
    transport  TEXT NOT NULL DEFAULT '',
    flow       TEXT NOT NULL DEFAULT '',
    path       TEXT NOT NULL DEFAULT '[]',
    node       TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, number, key),
    FOREIGN KEY (tenant_id, number) REFERENCES extensions (tenant_id, number)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX bindings_expires ON bindings (expires);
