-- Version 4: a session check names the person by their first address. This index
-- answers that from the index alone (user, then oldest address first), so the
-- check reads one B-tree fewer; it replaces the index on user_id it extends.
CREATE INDEX IF NOT EXISTS user_emails_by_user_first ON user_emails (user_id, created_at, email);
DROP INDEX IF EXISTS user_emails_by_user;
