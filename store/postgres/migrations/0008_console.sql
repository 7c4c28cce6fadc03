-- Sentral schema, version 8 (PostgreSQL): the switchboard console. Keep it
-- logically identical to store/sqlite/migrations/0008_console.sql.
--
-- Tenants get their switchboard settings: switchboard_hours, the opening
-- hours of the switchboard ("mon-fri 08:00-15:30", Europe/Oslo; '' means
-- always open; the syntax is media/queue's, checked by provisioning) and
-- night_target, where calls to the switchboard number go outside those
-- hours or when no operator is available ('' none: a closed message;
-- otherwise voicemail:NUMBER or a number, like a forward target).
--
-- Operators are the people who log in to the console. username is unique
-- across tenants (the login form asks for nothing else) and lower-case;
-- password_hash is an argon2id PHC string (store/passhash); extension is
-- the operator's own phone. Lock-out state lives here too, so a restart
-- does not forgive an attack: failed_count failures since failed_since,
-- and locked_until while the account is locked. Operators are deleted with
-- their tenant.

ALTER TABLE tenants ADD COLUMN switchboard_hours text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN night_target text NOT NULL DEFAULT '';

CREATE TABLE operators (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    username      text NOT NULL,
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL,
    extension     text NOT NULL,
    locale        text NOT NULL,
    failed_count  integer NOT NULL DEFAULT 0,
    failed_since  timestamptz,
    locked_until  timestamptz,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX operators_username ON operators (username);
CREATE INDEX operators_tenant ON operators (tenant_id, username);
