-- Sentral schema, version 6 (SQLite): call features. Keep it logically
-- identical to store/postgres/migrations/0006_callfeatures.sql.
--
-- Extensions get call forwarding (always, on busy, on no answer; a target
-- is '' for none, 'voicemail', 'voicemail:NUMBER' or a number), how long
-- they ring before the no-answer forward (0: the default, 20 seconds), do
-- not disturb, whether their mailbox takes unanswered calls, whether the
-- mailbox asks for the PIN from the extension's own phone, and the prompt
-- language ('' for the default, 'nb' or 'en'). Groups get where a call
-- goes that no member answered.
--
-- Existing rows get defaults that keep an upgraded switch doing what it
-- did: no forwards, DND off, voicemail off (no caller is suddenly sent to
-- a mailbox nobody set up), no overflow. Values are checked by the store,
-- not by CHECK constraints, so adding a kind of target needs no table
-- rebuild; dnd, voicemail and voicemail_ask_pin are 0 or 1.

ALTER TABLE extensions ADD COLUMN forward_always TEXT NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN forward_busy TEXT NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN forward_no_answer TEXT NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN no_answer_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN dnd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN voicemail INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN voicemail_ask_pin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN language TEXT NOT NULL DEFAULT '';

ALTER TABLE ring_groups ADD COLUMN overflow TEXT NOT NULL DEFAULT '';
