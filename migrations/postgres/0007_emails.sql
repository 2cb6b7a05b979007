-- Version 7 (SQLite's version 9): several addresses on one account.

-- One of a person's addresses is primary: the one forward auth, the JSON API,
-- OpenID Connect and the CLI show. Until now that was the oldest one.
ALTER TABLE user_emails ADD COLUMN is_primary BOOLEAN NOT NULL DEFAULT false;
UPDATE user_emails SET is_primary = true WHERE email = (
  SELECT e.email FROM user_emails e WHERE e.user_id = user_emails.user_id
  ORDER BY e.created_at, e.email LIMIT 1
);
-- At most one primary address per person; the session check reads it from this
-- index alone.
CREATE UNIQUE INDEX user_emails_primary ON user_emails (user_id) INCLUDE (email)
  WHERE is_primary;

-- A challenge with a user_id adds its address to that account instead of signing
-- in, and only for the session that asked (session_hash: that session's token hash).
ALTER TABLE login_challenges ADD COLUMN user_id BIGINT REFERENCES users (id);
ALTER TABLE login_challenges ADD COLUMN session_hash TEXT;

-- The address a notice is about ("… was added to your account"), for the kinds
-- that name one besides their recipient.
ALTER TABLE outbox ADD COLUMN about TEXT;
