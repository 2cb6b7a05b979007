-- doorcode schema, version 1.
--
-- Applied at start-up inside one transaction when `PRAGMA user_version` is below 1;
-- later versions add numbered migrations instead of editing this file. Times are
-- Unix seconds. Only hashes of codes and session tokens are stored.

-- People. Sign-in methods (emails today; phones, passkeys, social logins later)
-- live in sibling tables that point here.
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
  first_name TEXT NOT NULL CHECK (length(first_name) < 128),
  last_name TEXT CHECK (length(last_name) < 128),
  avatar_url TEXT CHECK (length(avatar_url) < 1024)
);

-- Trimmed, lower-cased addresses.
CREATE TABLE IF NOT EXISTS user_emails (
  email TEXT PRIMARY KEY NOT NULL CHECK (length(email) < 256),
  user_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
  FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS user_emails_by_user ON user_emails (user_id);

-- token_hash is the lower-case hex SHA-256 of the cookie value; public_id is what
-- APIs show, so neither the token nor its hash ever leaves the server.
CREATE TABLE IF NOT EXISTS user_sessions (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now')),
  public_id TEXT NOT NULL UNIQUE,
  expires_at INTEGER NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS user_sessions_by_user ON user_sessions (user_id);
CREATE INDEX IF NOT EXISTS user_sessions_by_expiry ON user_sessions (expires_at);

-- One sign-in attempt: an address asking for a code, bound to the browser that
-- asked (browser_hash = SHA-256 of its binding cookie). Its codes share `attempts`.
CREATE TABLE IF NOT EXISTS login_challenges (
  id TEXT PRIMARY KEY NOT NULL,
  email TEXT NOT NULL CHECK (length(email) < 256),
  browser_hash TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  verified_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS login_challenges_by_expiry ON login_challenges (expires_at);

-- Keyed hashes: SHA-256(server secret ‖ challenge id ‖ code).
CREATE TABLE IF NOT EXISTS login_codes (
  challenge_id TEXT NOT NULL REFERENCES login_challenges (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_codes_by_challenge ON login_codes (challenge_id);

-- Sliding-window limits: one row per counted event, kept in the database so a
-- restart does not reset them. kind: 'send' (code mailed to an address),
-- 'ip' (code requested by a client), 'fail' (wrong code for an address).
CREATE TABLE IF NOT EXISTS rate_events (
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_lookup ON rate_events (kind, subject, at);
CREATE INDEX IF NOT EXISTS rate_events_by_time ON rate_events (at);

-- Outgoing mail, written in the same transaction as its code. The code is sealed
-- (XChaCha20-Poly1305, key derived from the server secret), never stored in clear.
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient TEXT NOT NULL,
  message_id TEXT NOT NULL,
  sealed_code BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER,
  failed_at INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (next_attempt_at)
  WHERE sent_at IS NULL AND failed_at IS NULL;
