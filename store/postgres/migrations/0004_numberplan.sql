-- Sentral schema, version 4 (PostgreSQL): the number plan, trunk routing,
-- emergency trunks and per-device credentials. Keep it logically identical
-- to store/sqlite/migrations/0004_numberplan.sql.
--
-- Existing rows get defaults that keep an upgraded switch doing what it did:
-- no outside-line prefix, unknown DIDs to the switchboard, no direct
-- numbers, caller ID shown, every existing trunk routing everything ('+'),
-- a peer trunk whose host is an IPv4 address accepting calls from it, and
-- every existing device the username 'ph' || mac and a random secret (20 hex
-- digits from gen_random_uuid, a strong random source; `sentral device
-- secret MAC --rotate` gives one of the new kind). Values of unknown_did
-- are checked by the store, not by CHECK constraints.

ALTER TABLE tenants ADD COLUMN outside_prefix text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN unknown_did text NOT NULL DEFAULT 'switchboard';

ALTER TABLE extensions ADD COLUMN did text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN hide_caller_id boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX extensions_did ON extensions (did) WHERE did <> '';

ALTER TABLE ring_groups ADD COLUMN did text COLLATE "C" NOT NULL DEFAULT '';
CREATE UNIQUE INDEX ring_groups_did ON ring_groups (did) WHERE did <> '';

ALTER TABLE trunks ADD COLUMN emergency boolean NOT NULL DEFAULT false;

-- Route patterns: E.164 prefixes ('+47', '+' for everything), in the order given.
CREATE TABLE trunk_routes (
    trunk_id bigint NOT NULL REFERENCES trunks (id) ON DELETE CASCADE,
    position integer NOT NULL,
    prefix   text COLLATE "C" NOT NULL,
    PRIMARY KEY (trunk_id, position),
    UNIQUE (trunk_id, prefix)
);

-- Addresses (192.0.2.10) and networks (198.51.100.0/24) allowed to send
-- inbound calls on the trunk, in canonical form.
CREATE TABLE trunk_peers (
    trunk_id bigint NOT NULL REFERENCES trunks (id) ON DELETE CASCADE,
    position integer NOT NULL,
    address  text COLLATE "C" NOT NULL,
    PRIMARY KEY (trunk_id, position),
    UNIQUE (trunk_id, address)
);

INSERT INTO trunk_routes (trunk_id, position, prefix) SELECT id, 0, '+' FROM trunks;
INSERT INTO trunk_peers (trunk_id, position, address)
    SELECT id, 0, host FROM trunks
    WHERE mode = 'peer' AND host ~ '^[0-9]{1,3}(\.[0-9]{1,3}){3}$';

ALTER TABLE devices ADD COLUMN auth_user text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN secret text NOT NULL DEFAULT '';
UPDATE devices SET auth_user = 'ph' || mac, secret = substr(md5(gen_random_uuid()::text), 1, 20);
CREATE UNIQUE INDEX devices_auth_user ON devices (auth_user);
