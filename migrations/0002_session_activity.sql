-- Version 2: what the sessions list shows. `last_seen_at` is updated at most every
-- few minutes per session, so checking a session stays a read.
ALTER TABLE user_sessions ADD COLUMN user_agent TEXT CHECK (length(user_agent) <= 512);
ALTER TABLE user_sessions ADD COLUMN last_seen_at INTEGER;
UPDATE user_sessions SET last_seen_at = created_at WHERE last_seen_at IS NULL;
