-- Version 8: passkeys (WebAuthn credentials) beside the email codes.

-- A person's passkeys. `credential` is the public key and its flags as the
-- WebAuthn library keeps them (JSON: the COSE key, the signature counter, the
-- backup flags); the private key never leaves the authenticator. The counter is
-- also a column, so two sign-ins racing with one assertion cannot both win.
CREATE TABLE user_passkeys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id),
  credential_id TEXT NOT NULL UNIQUE,
  user_handle TEXT NOT NULL,
  credential TEXT NOT NULL,
  sign_count INTEGER NOT NULL,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX user_passkeys_user ON user_passkeys (user_id);

-- WebAuthn ceremonies under way: the challenge and what it was for, kept here
-- (not in the browser) so it is used once and can be finished on any instance.
-- Found by the SHA-256 of the id the client holds.
CREATE TABLE passkey_ceremonies (
  id_hash TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('register', 'sign_in')),
  user_id INTEGER REFERENCES users (id),
  session_hash TEXT,
  state TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

-- How each session was signed in, for OpenID Connect's `amr` claim: `otp` (an
-- emailed code), or a passkey: `hwk` (a key bound to its device) or `swk` (a
-- synced one), with `user` (the person was verified). Space-separated.
ALTER TABLE user_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'otp';
ALTER TABLE oidc_grants ADD COLUMN amr TEXT NOT NULL DEFAULT 'otp';
