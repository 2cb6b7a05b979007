-- Version 10: self-hosted proof-of-work CAPTCHA (ALTCHA).

-- Each solved challenge, found by the SHA-256 of the challenge, until it expires:
-- a solution is accepted once, on whichever instance it reaches first.
CREATE TABLE captcha_solutions (
  challenge_hash TEXT PRIMARY KEY NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX captcha_solutions_expiry ON captcha_solutions (expires_at);
