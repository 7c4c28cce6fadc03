-- Sentral schema, version 1 (PostgreSQL). Keep it logically identical to
-- store/sqlite/migrations/0001_init.sql: the SQL in store/sqlstore runs on both.
-- Natural-key text columns use the "C" collation so List orders exactly as
-- SQLite's binary collation does.

CREATE TABLE tenants (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version            bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    name               text COLLATE "C" NOT NULL UNIQUE,
    display_name       text NOT NULL DEFAULT '',
    domain             text COLLATE "C" NOT NULL UNIQUE,
    switchboard_number text NOT NULL DEFAULT ''
);

CREATE TABLE tenant_ranges (
    tenant_id    bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('ext', 'did')),
    first_number text NOT NULL,
    last_number  text NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

CREATE TABLE sites (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    address    text NOT NULL DEFAULT '',
    did        text NOT NULL DEFAULT '',
    UNIQUE (tenant_id, name)
);

CREATE TABLE departments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code       text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE people (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version       bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    tenant_id     bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    given_name    text COLLATE "C" NOT NULL DEFAULT '',
    family_name   text COLLATE "C" NOT NULL DEFAULT '',
    title         text NOT NULL DEFAULT '',
    department_id bigint REFERENCES departments (id),
    site_id       bigint REFERENCES sites (id),
    email         text COLLATE "C" NOT NULL DEFAULT '',
    mobile        text NOT NULL DEFAULT '',
    notes         text NOT NULL DEFAULT '',
    visibility    text NOT NULL DEFAULT 'listed'
);
CREATE UNIQUE INDEX people_tenant_email ON people (tenant_id, email) WHERE email <> '';
CREATE INDEX people_email ON people (email);
CREATE INDEX people_tenant ON people (tenant_id);
CREATE INDEX people_department ON people (department_id);
CREATE INDEX people_site ON people (site_id);

CREATE TABLE extensions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version       bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    tenant_id     bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number        text COLLATE "C" NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    person_id     bigint REFERENCES people (id),
    department_id bigint REFERENCES departments (id),
    site_id       bigint REFERENCES sites (id),
    cos           text NOT NULL DEFAULT 'national',
    ha1_md5       text NOT NULL DEFAULT '',
    ha1_sha256    text NOT NULL DEFAULT '',
    voicemail_pin text NOT NULL DEFAULT '',
    enabled       boolean NOT NULL DEFAULT true,
    UNIQUE (tenant_id, number)
);
CREATE INDEX extensions_number ON extensions (number);
CREATE INDEX extensions_person ON extensions (person_id);
CREATE INDEX extensions_department ON extensions (department_id);
CREATE INDEX extensions_site ON extensions (site_id);

CREATE TABLE devices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    tenant_id   bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mac         text COLLATE "C" NOT NULL UNIQUE,
    model       text NOT NULL DEFAULT '',
    site_id     bigint REFERENCES sites (id),
    description text NOT NULL DEFAULT ''
);
CREATE INDEX devices_tenant ON devices (tenant_id);
CREATE INDEX devices_site ON devices (site_id);

CREATE TABLE device_lines (
    device_id    bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    line         integer NOT NULL CHECK (line >= 1),
    extension_id bigint NOT NULL REFERENCES extensions (id),
    PRIMARY KEY (device_id, line)
);
CREATE INDEX device_lines_extension ON device_lines (extension_id);

CREATE TABLE dect_gateways (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    model      text NOT NULL DEFAULT '',
    address    text NOT NULL DEFAULT '',
    site_id    bigint REFERENCES sites (id),
    mode       text NOT NULL DEFAULT 'register',
    UNIQUE (tenant_id, name)
);
CREATE INDEX dect_gateways_site ON dect_gateways (site_id);

CREATE TABLE dect_handsets (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    tenant_id    bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    gateway_id   bigint NOT NULL REFERENCES dect_gateways (id),
    ipui         text COLLATE "C" NOT NULL UNIQUE,
    extension_id bigint NOT NULL REFERENCES extensions (id)
);
CREATE INDEX dect_handsets_tenant ON dect_handsets (tenant_id);
CREATE INDEX dect_handsets_gateway ON dect_handsets (gateway_id);
CREATE INDEX dect_handsets_extension ON dect_handsets (extension_id);

CREATE TABLE trunks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    mode       text NOT NULL,
    host       text NOT NULL,
    port       integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    transport  text NOT NULL DEFAULT 'udp',
    username   text NOT NULL DEFAULT '',
    password   text NOT NULL DEFAULT '',
    realm      text NOT NULL DEFAULT '',
    priority   integer NOT NULL DEFAULT 0,
    enabled    boolean NOT NULL DEFAULT true,
    UNIQUE (tenant_id, name)
);

CREATE TABLE ring_groups (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    tenant_id    bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number       text COLLATE "C" NOT NULL,
    name         text COLLATE "C" NOT NULL DEFAULT '',
    strategy     text NOT NULL DEFAULT 'simultaneous',
    ring_seconds integer NOT NULL DEFAULT 20,
    UNIQUE (tenant_id, number)
);

CREATE TABLE group_members (
    group_id     bigint NOT NULL REFERENCES ring_groups (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    extension_id bigint NOT NULL REFERENCES extensions (id),
    PRIMARY KEY (group_id, position),
    UNIQUE (group_id, extension_id)
);
CREATE INDEX group_members_extension ON group_members (extension_id);

CREATE TABLE changes (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity    text NOT NULL,
    tenant_id bigint NOT NULL,
    entity_id bigint NOT NULL,
    key       text NOT NULL,
    op        text NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX changes_at ON changes (at);
