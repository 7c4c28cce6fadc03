-- Sentral schema, version 9 (SQLite): the audit log. Keep it logically
-- identical to store/postgres/migrations/0009_audit.sql.
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
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TIMESTAMP NOT NULL,
    tenant_id INTEGER,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    source    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '',
    outcome   TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);
