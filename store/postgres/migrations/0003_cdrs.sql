-- Sentral schema, version 3 (PostgreSQL): call detail records. Keep it
-- logically identical to store/sqlite/migrations/0003_cdrs.sql.
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
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        bigint NOT NULL,
    call_id          text NOT NULL DEFAULT '',
    node             text NOT NULL DEFAULT '',
    state            text NOT NULL,
    direction        text NOT NULL,
    caller           text NOT NULL DEFAULT '',
    callee           text NOT NULL DEFAULT '',
    dialled          text NOT NULL DEFAULT '',
    normalised       text NOT NULL DEFAULT '',
    trunk_id         bigint,
    trunk            text NOT NULL DEFAULT '',
    department_id    bigint,
    department_code  text NOT NULL DEFAULT '',
    start_time       timestamptz NOT NULL,
    answer_time      timestamptz,
    end_time         timestamptz,
    duration_seconds bigint NOT NULL DEFAULT 0,
    billable_seconds bigint NOT NULL DEFAULT 0,
    disposition      text NOT NULL DEFAULT '',
    sip_code         integer NOT NULL DEFAULT 0,
    reason           text NOT NULL DEFAULT '',
    price_ore        bigint,
    tariff_id        bigint
);
CREATE INDEX cdrs_tenant_start ON cdrs (tenant_id, start_time);
-- CloseOrphans looks for a node's open records; few are open at a time.
CREATE INDEX cdrs_open ON cdrs (node) WHERE state = 'open';
