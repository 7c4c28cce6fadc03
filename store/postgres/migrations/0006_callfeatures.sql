-- Sentral schema, version 6 (PostgreSQL): call features. Keep it logically
-- identical to store/sqlite/migrations/0006_callfeatures.sql.
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
-- rebuild. Adding a column with a constant default rewrites no rows.

ALTER TABLE extensions ADD COLUMN forward_always text NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN forward_busy text NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN forward_no_answer text NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN no_answer_seconds integer NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN dnd boolean NOT NULL DEFAULT false;
ALTER TABLE extensions ADD COLUMN voicemail boolean NOT NULL DEFAULT false;
ALTER TABLE extensions ADD COLUMN voicemail_ask_pin boolean NOT NULL DEFAULT false;
ALTER TABLE extensions ADD COLUMN language text NOT NULL DEFAULT '';

ALTER TABLE ring_groups ADD COLUMN overflow text NOT NULL DEFAULT '';
