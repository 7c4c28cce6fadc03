-- Sentral schema, version 9 (PostgreSQL): the audit log. Keep it
-- logically identical to store/sqlite/migrations/0009_audit.sql.
--
-- One row per admin or operator action: who (actor: "admin-api",
-- "operator:kari", "cli:root"; role admin, operator or system), what
-- (action such as "extension.create" or "operator.login_failed", on
-- target), when (at, UTC), from where (source: the client's ip:port, or
-- "local") and how it went (outcome ok, denied or error). detail is a
-- small JSON object or free text and never holds a password or secret.
-- tenant_id is NULL for actions outside any tenant; it is not a foreign
-- key: the log outlives the tenants it names, as call records do. Rows
-- are only appended, and purged after audit.retention_days.

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    tenant_id bigint,
    actor     text NOT NULL,
    role      text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL DEFAULT '',
    source    text NOT NULL DEFAULT '',
    detail    text NOT NULL DEFAULT '',
    outcome   text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);
