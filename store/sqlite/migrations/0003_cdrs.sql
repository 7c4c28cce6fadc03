-- Sentral schema, version 3 (SQLite): call detail records. Keep it logically
-- identical to store/postgres/migrations/0003_cdrs.sql.
--
-- One row per call attempt, inserted open when the call starts and closed
-- when it ends (or by CloseOrphans when its node restarts after a crash).
-- The records are the billing history, so they have no foreign keys:
-- deleting a tenant, department or trunk keeps them, and the text columns
-- (numbers, trunk, department_code) are snapshots taken at the call.
-- Durations are whole seconds computed by the store at close. price_ore
-- (øre) and tariff_id stay NULL until rating fills them. Values of state,
-- direction and disposition are checked by the store, not by CHECK
-- constraints, so adding one needs no table rebuild.

CREATE TABLE cdrs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        INTEGER NOT NULL,
    call_id          TEXT NOT NULL DEFAULT '',
    node             TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL,
    direction        TEXT NOT NULL,
    caller           TEXT NOT NULL DEFAULT '',
    callee           TEXT NOT NULL DEFAULT '',
    dialled          TEXT NOT NULL DEFAULT '',
    normalised       TEXT NOT NULL DEFAULT '',
    trunk_id         INTEGER,
    trunk            TEXT NOT NULL DEFAULT '',
    department_id    INTEGER,
    department_code  TEXT NOT NULL DEFAULT '',
    start_time       TIMESTAMP NOT NULL,
    answer_time      TIMESTAMP,
    end_time         TIMESTAMP,
    duration_seconds INTEGER NOT NULL DEFAULT 0,
    billable_seconds INTEGER NOT NULL DEFAULT 0,
    disposition      TEXT NOT NULL DEFAULT '',
    sip_code         INTEGER NOT NULL DEFAULT 0,
    reason           TEXT NOT NULL DEFAULT '',
    price_ore        INTEGER,
    tariff_id        INTEGER
);
CREATE INDEX cdrs_tenant_start ON cdrs (tenant_id, start_time);
-- CloseOrphans looks for a node's open records; few are open at a time.
CREATE INDEX cdrs_open ON cdrs (node) WHERE state = 'open';
