-- Sentral schema, version 1 (SQLite). Keep it logically identical to
-- store/postgres/migrations/0001_init.sql: the SQL in store/sqlstore runs on both.

CREATE TABLE tenants (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    version            INTEGER NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    name               TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL DEFAULT '',
    domain             TEXT NOT NULL UNIQUE,
    switchboard_number TEXT NOT NULL DEFAULT ''
);

CREATE TABLE tenant_ranges (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('ext', 'did')),
    first_number TEXT NOT NULL,
    last_number  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

CREATE TABLE sites (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    did        TEXT NOT NULL DEFAULT '',
    UNIQUE (tenant_id, name)
);

CREATE TABLE departments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE people (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    version       INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    given_name    TEXT NOT NULL DEFAULT '',
    family_name   TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL DEFAULT '',
    department_id INTEGER REFERENCES departments (id),
    site_id       INTEGER REFERENCES sites (id),
    email         TEXT NOT NULL DEFAULT '',
    mobile        TEXT NOT NULL DEFAULT '',
    notes         TEXT NOT NULL DEFAULT '',
    visibility    TEXT NOT NULL DEFAULT 'listed'
);
CREATE UNIQUE INDEX people_tenant_email ON people (tenant_id, email) WHERE email <> '';
CREATE INDEX people_email ON people (email);
CREATE INDEX people_tenant ON people (tenant_id);
CREATE INDEX people_department ON people (department_id);
CREATE INDEX people_site ON people (site_id);

CREATE TABLE extensions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    version       INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number        TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    person_id     INTEGER REFERENCES people (id),
    department_id INTEGER REFERENCES departments (id),
    site_id       INTEGER REFERENCES sites (id),
    cos           TEXT NOT NULL DEFAULT 'national',
    ha1_md5       TEXT NOT NULL DEFAULT '',
    ha1_sha256    TEXT NOT NULL DEFAULT '',
    voicemail_pin TEXT NOT NULL DEFAULT '',
    enabled       INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, number)
);
CREATE INDEX extensions_number ON extensions (number);
CREATE INDEX extensions_person ON extensions (person_id);
CREATE INDEX extensions_department ON extensions (department_id);
CREATE INDEX extensions_site ON extensions (site_id);

CREATE TABLE devices (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    version     INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mac         TEXT NOT NULL UNIQUE,
    model       TEXT NOT NULL DEFAULT '',
    site_id     INTEGER REFERENCES sites (id),
    description TEXT NOT NULL DEFAULT ''
);
CREATE INDEX devices_tenant ON devices (tenant_id);
CREATE INDEX devices_site ON devices (site_id);

CREATE TABLE device_lines (
    device_id    INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    line         INTEGER NOT NULL CHECK (line >= 1),
    extension_id INTEGER NOT NULL REFERENCES extensions (id),
    PRIMARY KEY (device_id, line)
);
CREATE INDEX device_lines_extension ON device_lines (extension_id);

CREATE TABLE dect_gateways (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    model      TEXT NOT NULL DEFAULT '',
    address    TEXT NOT NULL DEFAULT '',
    site_id    INTEGER REFERENCES sites (id),
    mode       TEXT NOT NULL DEFAULT 'register',
    UNIQUE (tenant_id, name)
);
CREATE INDEX dect_gateways_site ON dect_gateways (site_id);

CREATE TABLE dect_handsets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    version      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    gateway_id   INTEGER NOT NULL REFERENCES dect_gateways (id),
    ipui         TEXT NOT NULL UNIQUE,
    extension_id INTEGER NOT NULL REFERENCES extensions (id)
);
CREATE INDEX dect_handsets_tenant ON dect_handsets (tenant_id);
CREATE INDEX dect_handsets_gateway ON dect_handsets (gateway_id);
CREATE INDEX dect_handsets_extension ON dect_handsets (extension_id);

CREATE TABLE trunks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    mode       TEXT NOT NULL,
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    transport  TEXT NOT NULL DEFAULT 'udp',
    username   TEXT NOT NULL DEFAULT '',
    password   TEXT NOT NULL DEFAULT '',
    realm      TEXT NOT NULL DEFAULT '',
    priority   INTEGER NOT NULL DEFAULT 0,
    enabled    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, name)
);

CREATE TABLE ring_groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    version      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    strategy     TEXT NOT NULL DEFAULT 'simultaneous',
    ring_seconds INTEGER NOT NULL DEFAULT 20,
    UNIQUE (tenant_id, number)
);

CREATE TABLE group_members (
    group_id     INTEGER NOT NULL REFERENCES ring_groups (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    extension_id INTEGER NOT NULL REFERENCES extensions (id),
    PRIMARY KEY (group_id, position),
    UNIQUE (group_id, extension_id)
);
CREATE INDEX group_members_extension ON group_members (extension_id);

CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    tenant_id INTEGER NOT NULL,
    entity_id INTEGER NOT NULL,
    key       TEXT NOT NULL,
    op        TEXT NOT NULL,
    at        TIMESTAMP NOT NULL
);
CREATE INDEX changes_at ON changes (at);
