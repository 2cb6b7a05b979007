//! OpenID Connect for SQLite: signing keys, clients added from the command line,
//! consents, and grants with their tokens (by hash only).

use r2d2_sqlite::rusqlite::{self, Connection, OptionalExtension, Row, params};

use super::{Sqlite, StorageError};
use crate::domain::{EmailAddress, TokenHash};
use crate::rules::oidc::redeemable;
use crate::storage::records::{
    ClientRecord, ConsentRecord, GrantRecord, NewGrant, NewToken, Person, Redeem, Redemption,
    Refresh, Rotation, StoredKey, TokenKind, TokenRecord, join_lines, split_amr, split_groups,
    split_lines, tokens_for,
};

const GRANT_COLUMNS: &str = "g.id, g.client_id, g.redirect_uri, g.scope, g.nonce, \
     g.code_challenge, g.auth_time, g.user_id, u.first_name, u.last_name, \
     coalesce((SELECT e.email FROM user_emails e WHERE e.user_id = g.user_id \
      AND e.is_primary = 1), \
      (SELECT e.email FROM user_emails e WHERE e.user_id = g.user_id \
       ORDER BY e.created_at, e.email LIMIT 1)), \
     (SELECT group_concat(gr.name, ',' ORDER BY gr.name) FROM user_groups ug \
      JOIN groups gr ON gr.id = ug.group_id WHERE ug.user_id = g.user_id), g.amr";

/// A grant and its person from `GRANT_COLUMNS`, starting at column `at`.
fn grant_row(row: &Row, at: usize) -> rusqlite::Result<(GrantRecord, Person)> {
    Ok((
        GrantRecord {
            id: row.get(at)?,
            client_id: row.get(at + 1)?,
            redirect_uri: row.get(at + 2)?,
            scope: row.get(at + 3)?,
            nonce: row.get(at + 4)?,
            code_challenge: row.get(at + 5)?,
            auth_time: row.get(at + 6)?,
            amr: split_amr(&row.get::<_, String>(at + 12)?),
        },
        Person {
            user_id: row.get(at + 7)?,
            first_name: row.get(at + 8)?,
            last_name: row.get(at + 9)?,
            email: EmailAddress::from_trusted(
                row.get::<_, Option<String>>(at + 10)?.unwrap_or_default(),
            ),
            groups: split_groups(row.get(at + 11)?),
        },
    ))
}

fn insert_tokens(
    tx: &Connection,
    grant_id: i64,
    tokens: &[NewToken],
    now: i64,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO oidc_tokens (token_hash, grant_id, kind, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut last = now;
    for token in tokens {
        insert.execute(params![
            token.hash.as_str(),
            grant_id,
            token.kind.as_str(),
            now,
            token.expires_at
        ])?;
        last = last.max(token.expires_at);
    }
    // The grant is kept as long as its longest-lived token.
    tx.prepare_cached("UPDATE oidc_grants SET expires_at = max(expires_at, ?2) WHERE id = ?1")?
        .execute(params![grant_id, last])?;
    Ok(())
}

fn revoke_grant(tx: &Connection, grant_id: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE oidc_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![grant_id, now])?;
    Ok(())
}

/// Revokes every grant of a person (for one client, when given).
pub(super) fn revoke_grants_of(
    tx: &Connection,
    user_id: Option<i64>,
    client_id: Option<&str>,
    now: i64,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE oidc_grants SET revoked_at = ?3 WHERE revoked_at IS NULL \
         AND (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR client_id = ?2)",
    )?
    .execute(params![user_id, client_id, now])
}

fn client_row(row: &Row) -> rusqlite::Result<ClientRecord> {
    Ok(ClientRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        secret_hash: row.get(2)?,
        redirect_uris: split_lines(&row.get::<_, String>(3)?),
        post_logout_redirect_uris: split_lines(&row.get::<_, String>(4)?),
        skip_consent: row.get(5)?,
        allowed_groups: split_lines(&row.get::<_, String>(6)?),
        created_at: row.get(7)?,
    })
}

const CLIENT_COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
     skip_consent, allowed_groups, created_at";

fn find_token(
    conn: &Connection,
    hash: &TokenHash,
    now: i64,
) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT t.kind, t.created_at, t.expires_at, {GRANT_COLUMNS} \
         FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id JOIN users u ON u.id = g.user_id \
         WHERE t.token_hash = ?1 AND t.expires_at > ?2 AND t.used_at IS NULL AND g.revoked_at IS NULL"
    ))?
    .query_row(params![hash.as_str(), now], |row| {
        let (grant, person) = grant_row(row, 3)?;
        Ok(TokenRecord {
            kind: TokenKind::from_stored(&row.get::<_, String>(0)?),
            created_at: row.get(1)?,
            expires_at: row.get(2)?,
            grant,
            person,
        })
    })
    .optional()
}

impl Sqlite {
    /// Every signing key, newest first.
    pub async fn oidc_keys(&self) -> Result<Vec<StoredKey>, StorageError> {
        self.run("read the signing keys", |conn| {
            conn.prepare_cached(
                "SELECT kid, alg, sealed_private, public_jwk, created_at, retired_at \
                 FROM oidc_keys ORDER BY created_at DESC, kid",
            )?
            .query_map([], |row| {
                Ok(StoredKey {
                    kid: row.get(0)?,
                    alg: row.get(1)?,
                    sealed_private: row.get(2)?,
                    public_jwk: row.get(3)?,
                    created_at: row.get(4)?,
                    retired_at: row.get(5)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Stores a key. With `rotate`, the keys in use are retired; without, the key
    /// is stored only when none is in use (the first start), and false says so.
    pub async fn add_oidc_key(&self, key: StoredKey, rotate: bool) -> Result<bool, StorageError> {
        self.write("store a signing key", move |tx| {
            if rotate {
                tx.execute(
                    "UPDATE oidc_keys SET retired_at = ?1 WHERE retired_at IS NULL",
                    [key.created_at],
                )?;
            } else {
                let in_use: i64 = tx.query_row(
                    "SELECT count(*) FROM oidc_keys WHERE retired_at IS NULL",
                    [],
                    |r| r.get(0),
                )?;
                if in_use > 0 {
                    return Ok(false);
                }
            }
            tx.execute(
                "INSERT INTO oidc_keys (kid, alg, sealed_private, public_jwk, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.kid,
                    key.alg,
                    key.sealed_private,
                    key.public_jwk,
                    key.created_at
                ],
            )?;
            Ok(true)
        })
        .await
    }

    /// False when a client with that id exists already.
    pub async fn add_oidc_client(&self, client: ClientRecord) -> Result<bool, StorageError> {
        self.write("add a client", move |tx| {
            let added = tx.execute(
                &format!(
                    "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (id) DO NOTHING"
                ),
                params![
                    client.id,
                    client.name,
                    client.secret_hash,
                    join_lines(&client.redirect_uris),
                    join_lines(&client.post_logout_redirect_uris),
                    client.skip_consent,
                    join_lines(&client.allowed_groups),
                    client.created_at
                ],
            )?;
            Ok(added == 1)
        })
        .await
    }

    pub async fn list_oidc_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        self.run("list clients", |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY id"
            ))?
            .query_map([], client_row)?
            .collect()
        })
        .await
    }

    pub async fn find_oidc_client(&self, id: String) -> Result<Option<ClientRecord>, StorageError> {
        self.run("look up a client", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = ?1"
            ))?
            .query_row([id], client_row)
            .optional()
        })
        .await
    }

    /// Removes the client, its consents, and revokes its tokens; false if unknown.
    pub async fn remove_oidc_client(&self, id: String, now: i64) -> Result<bool, StorageError> {
        self.write("remove a client", move |tx| {
            let removed = tx.execute("DELETE FROM oidc_clients WHERE id = ?1", [&id])?;
            tx.execute("DELETE FROM oidc_consents WHERE client_id = ?1", [&id])?;
            revoke_grants_of(tx, None, Some(&id), now)?;
            Ok(removed == 1)
        })
        .await
    }

    pub async fn consent_of(
        &self,
        user_id: i64,
        client_id: String,
    ) -> Result<Option<String>, StorageError> {
        self.run("read a consent", move |conn| {
            conn.prepare_cached(
                "SELECT scope FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2",
            )?
            .query_row(params![user_id, client_id], |r| r.get(0))
            .optional()
        })
        .await
    }

    /// Remembers that the person allowed the app this scope (replacing what was).
    pub async fn record_consent(
        &self,
        user_id: i64,
        client_id: String,
        scope: String,
        now: i64,
    ) -> Result<(), StorageError> {
        self.write("record a consent", move |tx| {
            tx.execute(
                "INSERT INTO oidc_consents (user_id, client_id, scope, created_at) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope",
                params![user_id, client_id, scope, now],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn list_consents(&self, user_id: i64) -> Result<Vec<ConsentRecord>, StorageError> {
        self.run("list consents", move |conn| {
            conn.prepare_cached(
                "SELECT client_id, scope, created_at FROM oidc_consents WHERE user_id = ?1 \
                 ORDER BY created_at, client_id",
            )?
            .query_map([user_id], |row| {
                Ok(ConsentRecord {
                    client_id: row.get(0)?,
                    scope: row.get(1)?,
                    created_at: row.get(2)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Forgets the consent and revokes every token the app holds for the person.
    pub async fn withdraw_consent(
        &self,
        user_id: i64,
        client_id: String,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.write("withdraw a consent", move |tx| {
            let removed = tx.execute(
                "DELETE FROM oidc_consents WHERE user_id = ?1 AND client_id = ?2",
                params![user_id, client_id],
            )?;
            let revoked = revoke_grants_of(tx, Some(user_id), Some(&client_id), now)?;
            Ok(removed + revoked > 0)
        })
        .await
    }

    pub async fn create_grant(&self, grant: NewGrant) -> Result<(), StorageError> {
        self.write("store an authorization", move |tx| {
            tx.prepare_cached(
                "INSERT INTO oidc_grants (code_hash, client_id, user_id, redirect_uri, scope, nonce, \
                 code_challenge, auth_time, created_at, code_expires_at, expires_at, amr) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
            )?
            .execute(params![
                grant.code_hash.as_str(),
                grant.client_id,
                grant.user_id,
                grant.redirect_uri,
                grant.scope,
                grant.nonce,
                grant.code_challenge,
                grant.auth_time,
                grant.now,
                grant.code_expires_at,
                grant.amr
            ])?;
            Ok(())
        })
        .await
    }

    /// Spends a code: good ⇒ its tokens are stored; used before ⇒ its family is
    /// revoked; anything else ⇒ refused, and the code is dead.
    pub async fn redeem_code(&self, redeem: Redeem) -> Result<Redemption, StorageError> {
        self.write("redeem an authorization code", move |tx| {
            let found = tx
                .prepare_cached(&format!(
                    "SELECT g.code_used_at, g.revoked_at, g.code_expires_at, {GRANT_COLUMNS} \
                     FROM oidc_grants g JOIN users u ON u.id = g.user_id WHERE g.code_hash = ?1"
                ))?
                .query_row([redeem.code_hash.as_str()], |row| {
                    let used: Option<i64> = row.get(0)?;
                    let revoked: Option<i64> = row.get(1)?;
                    let expires: i64 = row.get(2)?;
                    Ok((
                        used.is_some() || revoked.is_some(),
                        expires,
                        grant_row(row, 3)?,
                    ))
                })
                .optional()?;
            let Some((spent, expires_at, (grant, person))) = found else {
                return Ok(Redemption::Refused("the code is unknown"));
            };
            if spent {
                revoke_grant(tx, grant.id, redeem.now)?;
                return Ok(Redemption::Reused);
            }
            tx.prepare_cached("UPDATE oidc_grants SET code_used_at = ?2 WHERE id = ?1")?
                .execute(params![grant.id, redeem.now])?;
            if expires_at <= redeem.now {
                revoke_grant(tx, grant.id, redeem.now)?;
                return Ok(Redemption::Refused("the code has expired"));
            }
            if let Err(why) = redeemable(
                &grant.client_id,
                &grant.redirect_uri,
                grant.code_challenge.as_deref(),
                &redeem.client_id,
                &redeem.redirect_uri,
                redeem.verifier_challenge.as_deref(),
            ) {
                revoke_grant(tx, grant.id, redeem.now)?;
                return Ok(Redemption::Refused(why));
            }
            let tokens = tokens_for(&grant, redeem.tokens);
            insert_tokens(tx, grant.id, &tokens, redeem.now)?;
            Ok(Redemption::Redeemed {
                grant: Box::new(grant),
                person: Box::new(person),
            })
        })
        .await
    }

    /// Swaps a refresh token for new tokens; a used one revokes its family.
    pub async fn rotate_refresh(&self, refresh: Refresh) -> Result<Rotation, StorageError> {
        self.write("rotate a refresh token", move |tx| {
            let found = tx
                .prepare_cached(&format!(
                    "SELECT t.used_at, t.expires_at, g.revoked_at, {GRANT_COLUMNS} \
                     FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
                     JOIN users u ON u.id = g.user_id \
                     WHERE t.token_hash = ?1 AND t.kind = 'refresh'"
                ))?
                .query_row([refresh.token_hash.as_str()], |row| {
                    let used: Option<i64> = row.get(0)?;
                    let expires: i64 = row.get(1)?;
                    let revoked: Option<i64> = row.get(2)?;
                    Ok((
                        used.is_some(),
                        expires > refresh.now && revoked.is_none(),
                        grant_row(row, 3)?,
                    ))
                })
                .optional()?;
            let Some((used, live, (grant, person))) = found else {
                return Ok(Rotation::Refused);
            };
            if grant.client_id != refresh.client_id || !live {
                return Ok(Rotation::Refused);
            }
            if used {
                revoke_grant(tx, grant.id, refresh.now)?;
                return Ok(Rotation::Reused);
            }
            tx.prepare_cached("UPDATE oidc_tokens SET used_at = ?2 WHERE token_hash = ?1")?
                .execute(params![refresh.token_hash.as_str(), refresh.now])?;
            insert_tokens(tx, grant.id, &refresh.tokens, refresh.now)?;
            Ok(Rotation::Rotated {
                grant: Box::new(grant),
                person: Box::new(person),
            })
        })
        .await
    }

    /// A live token (unexpired, unused, its family unrevoked) with its person.
    pub async fn find_oidc_token(
        &self,
        hash: TokenHash,
        now: i64,
    ) -> Result<Option<TokenRecord>, StorageError> {
        if let Some(found) = self.inline.try_run(|conn| find_token(conn, &hash, now)) {
            return Ok(found);
        }
        self.run("look up a token", move |conn| find_token(conn, &hash, now))
            .await
    }

    /// Revokes a token of `client_id`: an access token alone, a refresh token with
    /// its family. Another client's token is left alone.
    pub async fn revoke_oidc_token(
        &self,
        hash: TokenHash,
        client_id: String,
        now: i64,
    ) -> Result<(), StorageError> {
        self.write("revoke a token", move |tx| {
            let found: Option<(String, i64)> = tx
                .prepare_cached(
                    "SELECT t.kind, g.id FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
                     WHERE t.token_hash = ?1 AND g.client_id = ?2",
                )?
                .query_row(params![hash.as_str(), client_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match found {
                Some((kind, grant_id)) if TokenKind::from_stored(&kind) == TokenKind::Refresh => {
                    revoke_grant(tx, grant_id, now)?;
                }
                Some(_) => {
                    tx.execute("DELETE FROM oidc_tokens WHERE token_hash = ?1", [hash.as_str()])?;
                }
                None => {}
            }
            Ok(())
        })
        .await
    }
}
