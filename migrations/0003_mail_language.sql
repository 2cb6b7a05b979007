-- Version 3: a code email is written in the language of the page that asked for
-- it. Messages queued before this version were all English.
ALTER TABLE outbox ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
