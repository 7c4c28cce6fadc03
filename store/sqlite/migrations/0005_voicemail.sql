-- Sentral schema, version 5 (SQLite): voicemail messages. Keep it logically
-- identical to store/postgres/migrations/0005_voicemail.sql.
--
-- One row per recorded message; the audio is an 8 kHz WAV file at path,
-- relative to the voicemail directory, so path is unique. The table has
-- no foreign keys: mailbox is the extension number the message was left
-- for, a snapshot like the numbers of a call record, and a message
-- outlives the renumbering or deletion of its extension (or tenant) until
-- it is deleted with its file. Values of folder ('new', 'saved') are
-- checked by the store, not by a CHECK constraint, so adding one needs no
-- table rebuild. urgent is 0 or 1.

CREATE TABLE voicemail_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL,
    mailbox         TEXT NOT NULL,
    caller_number   TEXT NOT NULL DEFAULT '',
    caller_name     TEXT NOT NULL DEFAULT '',
    call_id         TEXT NOT NULL DEFAULT '',
    received_at     TIMESTAMP NOT NULL,
    duration_millis INTEGER NOT NULL DEFAULT 0,
    folder          TEXT NOT NULL,
    path            TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL DEFAULT 0,
    urgent          INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX voicemail_messages_path ON voicemail_messages (path);
-- Listing a mailbox (by folder, oldest first) and counting it for
-- message-waiting.
CREATE INDEX voicemail_messages_mailbox ON voicemail_messages (tenant_id, mailbox, folder, received_at);
