-- Sentral schema, version 2 (PostgreSQL): registrations. Keep it logically
-- identical to store/sqlite/migrations/0002_bindings.sql.
--
-- One row per binding, identified within its AOR by key (store.BindingKey).
-- The foreign key makes the database delete the bindings of a deleted
-- extension (and so of a deleted tenant); ON UPDATE CASCADE only covers a
-- Save racing a renumbering, which deletes the old number's bindings first.
-- path is a JSON array of the Path header values, in order (text, not
-- jsonb: it is only ever read back whole).

CREATE TABLE bindings (
    tenant_id  bigint NOT NULL,
    number     text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    contact    text NOT NULL,
    instance   text NOT NULL DEFAULT '',
    reg_id     integer NOT NULL DEFAULT 0,
    q          double precision NOT NULL DEFAULT 1,
    expires    timestamptz NOT NULL,
    call_id    text NOT NULL DEFAULT '',
    cseq       bigint NOT NULL DEFAULT 0,
    user_agent text NOT NULL DEFAULT '',
    source     text NOT NULL DEFAULT '',
    transport  text NOT NULL DEFAULT '',
    flow       text NOT NULL DEFAULT '',
    path       text NOT NULL DEFAULT '[]',
    node       text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, number, key),
    FOREIGN KEY (tenant_id, number) REFERENCES extensions (tenant_id, number)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX bindings_expires ON bindings (expires);
