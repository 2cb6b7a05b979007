-- Version 2: a session check names the person by their first address. This index
-- answers that from the index alone (an index-only scan: user, then oldest address
-- first); it replaces the index on user_id it extends.
CREATE INDEX user_emails_by_user_first ON user_emails (user_id, created_at, email);
DROP INDEX user_emails_by_user;
