-- Version 7: doorcode as an OpenID Connect provider.

-- Signing keys. The private part is sealed with a key derived from the server
-- secret; a retired key no longer signs, and stays in the JWKS until what it
-- signed has expired.
CREATE TABLE oidc_keys (
  kid TEXT PRIMARY KEY NOT NULL,
  alg TEXT NOT NULL,
  sealed_private BLOB NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER
);

-- Clients added with `doorcode clients add` (those in the config file live there).
-- Lists are one entry per line. Only the SHA-256 of a secret is kept.
CREATE TABLE oidc_clients (
  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  secret_hash TEXT,
  redirect_uris TEXT NOT NULL,
  post_logout_redirect_uris TEXT NOT NULL,
  skip_consent INTEGER NOT NULL,
  allowed_groups TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- What a person allowed an app to see, remembered until they withdraw it.
CREATE TABLE oidc_consents (
  user_id INTEGER NOT NULL REFERENCES users (id),
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

-- One per authorization: its code (by hash), and the family of tokens issued
-- from it. Revoking a grant ends every token of the family.
CREATE TABLE oidc_grants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  code_hash TEXT NOT NULL UNIQUE,
  client_id TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users (id),
  redirect_uri TEXT NOT NULL,
  scope TEXT NOT NULL,
  nonce TEXT,
  code_challenge TEXT,
  auth_time INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  code_expires_at INTEGER NOT NULL,
  code_used_at INTEGER,
  revoked_at INTEGER,
  expires_at INTEGER NOT NULL
);
CREATE INDEX oidc_grants_by_user ON oidc_grants (user_id, client_id);
CREATE INDEX oidc_grants_by_expiry ON oidc_grants (expires_at);

-- Access and refresh tokens, by hash. A used refresh token stays, so that
-- presenting it again is seen and revokes its family.
CREATE TABLE oidc_tokens (
  token_hash TEXT PRIMARY KEY NOT NULL,
  grant_id INTEGER NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX oidc_tokens_by_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_by_expiry ON oidc_tokens (expires_at);
