-- Version 5: sessions are stored in order of their token hash (a WITHOUT ROWID
-- table), so a session check finds the row in one B-tree instead of looking the
-- hash up in an index and then the row in the table. Same columns, same
-- constraints; the rows are copied over inside the migration's transaction.
CREATE TABLE user_sessions_by_token (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
  public_id TEXT NOT NULL UNIQUE,
  expires_at INTEGER NOT NULL,
  user_agent TEXT CHECK (length(user_agent) <= 512),
  last_seen_at INTEGER,
  FOREIGN KEY (user_id) REFERENCES users(id)
) WITHOUT ROWID;
INSERT INTO user_sessions_by_token
  (token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at)
  SELECT token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at
  FROM user_sessions;
DROP TABLE user_sessions;
ALTER TABLE user_sessions_by_token RENAME TO user_sessions;
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
CREATE INDEX user_sessions_by_expiry ON user_sessions (expires_at);
