-- Sentral schema, version 5 (PostgreSQL): voicemail messages. Keep it
-- logically identical to store/sqlite/migrations/0005_voicemail.sql.
--
-- One row per recorded message; the audio is an 8 kHz WAV file at path,
-- relative to the voicemail directory, so path is unique. The table has
-- no foreign keys: mailbox is the extension number the message was left
-- for, a snapshot like the numbers of a call record, and a message
-- outlives the renumbering or deletion of its extension (or tenant) until
-- it is deleted with its file. Values of folder ('new', 'saved') are
-- checked by the store, not by a CHECK constraint, so adding one needs no
-- table rebuild.

CREATE TABLE voicemail_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL,
    mailbox         text NOT NULL,
    caller_number   text NOT NULL DEFAULT '',
    caller_name     text NOT NULL DEFAULT '',
    call_id         text NOT NULL DEFAULT '',
    received_at     timestamptz NOT NULL,
    duration_millis bigint NOT NULL DEFAULT 0,
    folder          text NOT NULL,
    path            text NOT NULL,
    size_bytes      bigint NOT NULL DEFAULT 0,
    urgent          boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX voicemail_messages_path ON voicemail_messages (path);
-- Listing a mailbox (by folder, oldest first) and counting it for
-- message-waiting.
CREATE INDEX voicemail_messages_mailbox ON voicemail_messages (tenant_id, mailbox, folder, received_at);
