-- Version 2: a code email is written in the language of the page that asked for
-- it (as SQLite's migrations/0003_mail_language.sql).
ALTER TABLE outbox ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
