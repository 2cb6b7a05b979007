//! OpenID Connect for PostgreSQL: signing keys, clients added from the command
//! line, consents, and grants with their tokens (by hash only). A code or refresh
//! token is locked (`FOR UPDATE`) while it is spent, so two instances never both
//! spend it.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Postgres, StorageError};
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
      AND e.is_primary), \
      (SELECT e.email FROM user_emails e WHERE e.user_id = g.user_id \
       ORDER BY e.created_at, e.email LIMIT 1)), \
     (SELECT string_agg(gr.name, ',' ORDER BY gr.name COLLATE \"C\") FROM user_groups ug \
      JOIN groups gr ON gr.id = ug.group_id WHERE ug.user_id = g.user_id), g.amr";

fn grant_row(row: &Row, at: usize) -> (GrantRecord, Person) {
    (
        GrantRecord {
            id: row.get(at),
            client_id: row.get(at + 1),
            redirect_uri: row.get(at + 2),
            scope: row.get(at + 3),
            nonce: row.get(at + 4),
            code_challenge: row.get(at + 5),
            auth_time: row.get(at + 6),
            amr: split_amr(row.get(at + 12)),
        },
        Person {
            user_id: row.get(at + 7),
            first_name: row.get(at + 8),
            last_name: row.get(at + 9),
            email: EmailAddress::from_trusted(
                row.get::<_, Option<String>>(at + 10).unwrap_or_default(),
            ),
            groups: split_groups(row.get(at + 11)),
        },
    )
}

async fn insert_tokens(
    tx: &impl GenericClient,
    grant_id: i64,
    tokens: &[NewToken],
    now: i64,
) -> anyhow::Result<()> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO oidc_tokens (token_hash, grant_id, kind, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    let mut last = now;
    for token in tokens {
        tx.execute(
            &insert,
            &[
                &token.hash.as_str(),
                &grant_id,
                &token.kind.as_str(),
                &now,
                &token.expires_at,
            ],
        )
        .await?;
        last = last.max(token.expires_at);
    }
    tx.execute(
        "UPDATE oidc_grants SET expires_at = greatest(expires_at, $2) WHERE id = $1",
        &[&grant_id, &last],
    )
    .await?;
    Ok(())
}

async fn revoke_grant(tx: &impl GenericClient, grant_id: i64, now: i64) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&grant_id, &now],
    )
    .await?;
    Ok(())
}

/// Revokes every grant of a person (for one client, when given).
pub(super) async fn revoke_grants_of(
    tx: &impl GenericClient,
    user_id: Option<i64>,
    client_id: Option<&str>,
    now: i64,
) -> anyhow::Result<u64> {
    Ok(tx
        .execute(
            "UPDATE oidc_grants SET revoked_at = $3 WHERE revoked_at IS NULL \
             AND ($1::BIGINT IS NULL OR user_id = $1) AND ($2::TEXT IS NULL OR client_id = $2)",
            &[&user_id, &client_id, &now],
        )
        .await?)
}

const CLIENT_COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
     skip_consent, allowed_groups, created_at";

fn client_row(row: &Row) -> ClientRecord {
    ClientRecord {
        id: row.get(0),
        name: row.get(1),
        secret_hash: row.get(2),
        redirect_uris: split_lines(row.get(3)),
        post_logout_redirect_uris: split_lines(row.get(4)),
        skip_consent: row.get(5),
        allowed_groups: split_lines(row.get(6)),
        created_at: row.get(7),
    }
}

impl Postgres {
    pub async fn oidc_keys(&self) -> Result<Vec<StoredKey>, StorageError> {
        self.guard("read the signing keys", async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT kid, alg, sealed_private, public_jwk, created_at, retired_at \
                     FROM oidc_keys ORDER BY created_at DESC, kid",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| StoredKey {
                    kid: row.get(0),
                    alg: row.get(1),
                    sealed_private: row.get(2),
                    public_jwk: row.get(3),
                    created_at: row.get(4),
                    retired_at: row.get(5),
                })
                .collect())
        })
        .await
    }

    /// Instances starting together make one first key: the lock lets one decide.
    pub async fn add_oidc_key(&self, key: StoredKey, rotate: bool) -> Result<bool, StorageError> {
        self.guard("store a signing key", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute("LOCK TABLE oidc_keys IN EXCLUSIVE MODE", &[])
                .await?;
            if rotate {
                tx.execute(
                    "UPDATE oidc_keys SET retired_at = $1 WHERE retired_at IS NULL",
                    &[&key.created_at],
                )
                .await?;
            } else {
                let in_use: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM oidc_keys WHERE retired_at IS NULL",
                        &[],
                    )
                    .await?
                    .get(0);
                if in_use > 0 {
                    return Ok(false);
                }
            }
            tx.execute(
                "INSERT INTO oidc_keys (kid, alg, sealed_private, public_jwk, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &key.kid,
                    &key.alg,
                    &key.sealed_private,
                    &key.public_jwk,
                    &key.created_at,
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    pub async fn add_oidc_client(&self, client: ClientRecord) -> Result<bool, StorageError> {
        self.guard("add a client", async {
            let added = self
                .client()
                .await?
                .execute(
                    &format!(
                        "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING"
                    ),
                    &[
                        &client.id,
                        &client.name,
                        &client.secret_hash,
                        &join_lines(&client.redirect_uris),
                        &join_lines(&client.post_logout_redirect_uris),
                        &client.skip_consent,
                        &join_lines(&client.allowed_groups),
                        &client.created_at,
                    ],
                )
                .await?;
            Ok(added == 1)
        })
        .await
    }

    pub async fn list_oidc_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        self.guard("list clients", async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY id"),
                    &[],
                )
                .await?;
            Ok(rows.iter().map(client_row).collect())
        })
        .await
    }

    pub async fn find_oidc_client(&self, id: String) -> Result<Option<ClientRecord>, StorageError> {
        self.guard("look up a client", async {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = $1"
                ))
                .await?;
            Ok(client
                .query_opt(&statement, &[&id])
                .await?
                .as_ref()
                .map(client_row))
        })
        .await
    }

    pub async fn remove_oidc_client(&self, id: String, now: i64) -> Result<bool, StorageError> {
        self.guard("remove a client", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let removed = tx
                .execute("DELETE FROM oidc_clients WHERE id = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM oidc_consents WHERE client_id = $1", &[&id])
                .await?;
            revoke_grants_of(&tx, None, Some(&id), now).await?;
            tx.commit().await?;
            Ok(removed == 1)
        })
        .await
    }

    pub async fn consent_of(
        &self,
        user_id: i64,
        client_id: String,
    ) -> Result<Option<String>, StorageError> {
        self.guard("read a consent", async {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(
                    "SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
                )
                .await?;
            Ok(client
                .query_opt(&statement, &[&user_id, &client_id])
                .await?
                .map(|row| row.get(0)))
        })
        .await
    }

    pub async fn record_consent(
        &self,
        user_id: i64,
        client_id: String,
        scope: String,
        now: i64,
    ) -> Result<(), StorageError> {
        self.guard("record a consent", async {
            self.client()
                .await?
                .execute(
                    "INSERT INTO oidc_consents (user_id, client_id, scope, created_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope",
                    &[&user_id, &client_id, &scope, &now],
                )
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn list_consents(&self, user_id: i64) -> Result<Vec<ConsentRecord>, StorageError> {
        self.guard("list consents", async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT client_id, scope, created_at FROM oidc_consents WHERE user_id = $1 \
                     ORDER BY created_at, client_id",
                    &[&user_id],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| ConsentRecord {
                    client_id: row.get(0),
                    scope: row.get(1),
                    created_at: row.get(2),
                })
                .collect())
        })
        .await
    }

    pub async fn withdraw_consent(
        &self,
        user_id: i64,
        client_id: String,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.guard("withdraw a consent", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let removed = tx
                .execute(
                    "DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
                    &[&user_id, &client_id],
                )
                .await?;
            let revoked = revoke_grants_of(&tx, Some(user_id), Some(&client_id), now).await?;
            tx.commit().await?;
            Ok(removed + revoked > 0)
        })
        .await
    }

    pub async fn create_grant(&self, grant: NewGrant) -> Result<(), StorageError> {
        self.guard("store an authorization", async {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(
                    "INSERT INTO oidc_grants (code_hash, client_id, user_id, redirect_uri, scope, \
                     nonce, code_challenge, auth_time, created_at, code_expires_at, expires_at, \
                     amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
                )
                .await?;
            client
                .execute(
                    &statement,
                    &[
                        &grant.code_hash.as_str(),
                        &grant.client_id,
                        &grant.user_id,
                        &grant.redirect_uri,
                        &grant.scope,
                        &grant.nonce,
                        &grant.code_challenge,
                        &grant.auth_time,
                        &grant.now,
                        &grant.code_expires_at,
                        &grant.amr,
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn redeem_code(&self, redeem: Redeem) -> Result<Redemption, StorageError> {
        self.guard("redeem an authorization code", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let statement = tx
                .prepare_cached(&format!(
                    "SELECT g.code_used_at, g.revoked_at, g.code_expires_at, {GRANT_COLUMNS} \
                     FROM oidc_grants g JOIN users u ON u.id = g.user_id WHERE g.code_hash = $1 \
                     FOR UPDATE OF g"
                ))
                .await?;
            let Some(row) = tx
                .query_opt(&statement, &[&redeem.code_hash.as_str()])
                .await?
            else {
                return Ok(Redemption::Refused("the code is unknown"));
            };
            let spent =
                row.get::<_, Option<i64>>(0).is_some() || row.get::<_, Option<i64>>(1).is_some();
            let expires_at: i64 = row.get(2);
            let (grant, person) = grant_row(&row, 3);
            let outcome = if spent {
                revoke_grant(&tx, grant.id, redeem.now).await?;
                Redemption::Reused
            } else {
                tx.execute(
                    "UPDATE oidc_grants SET code_used_at = $2 WHERE id = $1",
                    &[&grant.id, &redeem.now],
                )
                .await?;
                let check = match expires_at <= redeem.now {
                    true => Err("the code has expired"),
                    false => redeemable(
                        &grant.client_id,
                        &grant.redirect_uri,
                        grant.code_challenge.as_deref(),
                        &redeem.client_id,
                        &redeem.redirect_uri,
                        redeem.verifier_challenge.as_deref(),
                    ),
                };
                match check {
                    Err(why) => {
                        revoke_grant(&tx, grant.id, redeem.now).await?;
                        Redemption::Refused(why)
                    }
                    Ok(()) => {
                        let tokens = tokens_for(&grant, redeem.tokens);
                        insert_tokens(&tx, grant.id, &tokens, redeem.now).await?;
                        Redemption::Redeemed {
                            grant: Box::new(grant),
                            person: Box::new(person),
                        }
                    }
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn rotate_refresh(&self, refresh: Refresh) -> Result<Rotation, StorageError> {
        self.guard("rotate a refresh token", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let statement = tx
                .prepare_cached(&format!(
                    "SELECT t.used_at, t.expires_at, g.revoked_at, {GRANT_COLUMNS} \
                     FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
                     JOIN users u ON u.id = g.user_id \
                     WHERE t.token_hash = $1 AND t.kind = 'refresh' FOR UPDATE OF t"
                ))
                .await?;
            let Some(row) = tx
                .query_opt(&statement, &[&refresh.token_hash.as_str()])
                .await?
            else {
                return Ok(Rotation::Refused);
            };
            let used = row.get::<_, Option<i64>>(0).is_some();
            let live = row.get::<_, i64>(1) > refresh.now && row.get::<_, Option<i64>>(2).is_none();
            let (grant, person) = grant_row(&row, 3);
            if grant.client_id != refresh.client_id || !live {
                return Ok(Rotation::Refused);
            }
            let outcome = if used {
                revoke_grant(&tx, grant.id, refresh.now).await?;
                Rotation::Reused
            } else {
                tx.execute(
                    "UPDATE oidc_tokens SET used_at = $2 WHERE token_hash = $1",
                    &[&refresh.token_hash.as_str(), &refresh.now],
                )
                .await?;
                insert_tokens(&tx, grant.id, &refresh.tokens, refresh.now).await?;
                Rotation::Rotated {
                    grant: Box::new(grant),
                    person: Box::new(person),
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn find_oidc_token(
        &self,
        hash: TokenHash,
        now: i64,
    ) -> Result<Option<TokenRecord>, StorageError> {
        self.guard("look up a token", async {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(&format!(
                    "SELECT t.kind, t.created_at, t.expires_at, {GRANT_COLUMNS} \
                     FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
                     JOIN users u ON u.id = g.user_id \
                     WHERE t.token_hash = $1 AND t.expires_at > $2 AND t.used_at IS NULL \
                     AND g.revoked_at IS NULL"
                ))
                .await?;
            Ok(client
                .query_opt(&statement, &[&hash.as_str(), &now])
                .await?
                .map(|row| {
                    let (grant, person) = grant_row(&row, 3);
                    TokenRecord {
                        kind: TokenKind::from_stored(row.get(0)),
                        created_at: row.get(1),
                        expires_at: row.get(2),
                        grant,
                        person,
                    }
                }))
        })
        .await
    }

    pub async fn revoke_oidc_token(
        &self,
        hash: TokenHash,
        client_id: String,
        now: i64,
    ) -> Result<(), StorageError> {
        self.guard("revoke a token", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let found = tx
                .query_opt(
                    "SELECT t.kind, g.id FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
                     WHERE t.token_hash = $1 AND g.client_id = $2",
                    &[&hash.as_str(), &client_id],
                )
                .await?;
            if let Some(row) = found {
                let grant_id: i64 = row.get(1);
                match TokenKind::from_stored(row.get(0)) {
                    TokenKind::Refresh => revoke_grant(&tx, grant_id, now).await?,
                    TokenKind::Access => {
                        tx.execute("DELETE FROM oidc_tokens WHERE token_hash = $1", &[&hash.as_str()])
                            .await?;
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
