-- Sentral schema, version 4 (SQLite): the number plan, trunk routing,
-- emergency trunks and per-device credentials. Keep it logically identical
-- to store/postgres/migrations/0004_numberplan.sql.
--
-- Existing rows get defaults that keep an upgraded switch doing what it did:
-- no outside-line prefix, unknown DIDs to the switchboard, no direct
-- numbers, caller ID shown, every existing trunk routing everything ('+'),
-- a peer trunk whose host is an IPv4 address accepting calls from it, and
-- every existing device the username 'ph' || mac and a random secret (20 hex
-- digits; `sentral device secret MAC --rotate` gives one of the new kind).
-- Values of unknown_did are checked by the store, not by CHECK constraints.

ALTER TABLE tenants ADD COLUMN outside_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN unknown_did TEXT NOT NULL DEFAULT 'switchboard';

ALTER TABLE extensions ADD COLUMN did TEXT NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN hide_caller_id INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX extensions_did ON extensions (did) WHERE did <> '';

ALTER TABLE ring_groups ADD COLUMN did TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX ring_groups_did ON ring_groups (did) WHERE did <> '';

ALTER TABLE trunks ADD COLUMN emergency INTEGER NOT NULL DEFAULT 0;

-- Route patterns: E.164 prefixes ('+47', '+' for everything), in the order given.
CREATE TABLE trunk_routes (
    trunk_id INTEGER NOT NULL REFERENCES trunks (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    prefix   TEXT NOT NULL,
    PRIMARY KEY (trunk_id, position),
    UNIQUE (trunk_id, prefix)
);

-- Addresses (192.0.2.10) and networks (198.51.100.0/24) allowed to send
-- inbound calls on the trunk, in canonical form.
CREATE TABLE trunk_peers (
    trunk_id INTEGER NOT NULL REFERENCES trunks (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    address  TEXT NOT NULL,
    PRIMARY KEY (trunk_id, position),
    UNIQUE (trunk_id, address)
);

INSERT INTO trunk_routes (trunk_id, position, prefix) SELECT id, 0, '+' FROM trunks;
INSERT INTO trunk_peers (trunk_id, position, address)
    SELECT id, 0, host FROM trunks
    WHERE mode = 'peer' AND host GLOB '[0-9]*.[0-9]*.[0-9]*.[0-9]*' AND host NOT GLOB '*[^0-9.]*';

ALTER TABLE devices ADD COLUMN auth_user TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN secret TEXT NOT NULL DEFAULT '';
UPDATE devices SET auth_user = 'ph' || mac, secret = lower(hex(randomblob(10)));
CREATE UNIQUE INDEX devices_auth_user ON devices (auth_user);
