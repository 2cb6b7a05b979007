//! Passkeys for PostgreSQL: the credentials (public material only) and the
//! ceremonies under way. The ceremony steps themselves are `../passkeys.rs`; a
//! ceremony is deleted as it is taken, so only one instance can finish it.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::signin::{Tx, locking};
use super::{Postgres, StorageError};
use crate::domain::TokenHash;
use crate::rules::Refusal;
use crate::storage::passkeys::{self, PasskeyTx};
use crate::storage::records::{
    Ceremony, CeremonyKind, NewCeremony, NewPasskey, PasskeyRecord, PasskeyUse, PasskeyUseOutcome,
};

const COLUMNS: &str = "id, user_id, credential_id, user_handle, credential, sign_count, name, \
     created_at, last_used_at";

fn passkey_row(row: &Row) -> PasskeyRecord {
    PasskeyRecord {
        id: row.get(0),
        user_id: row.get(1),
        credential_id: row.get(2),
        user_handle: row.get(3),
        credential: row.get(4),
        sign_count: row.get(5),
        name: row.get(6),
        created_at: row.get(7),
        last_used_at: row.get(8),
    }
}

fn ceremony_kind(kind: &str) -> CeremonyKind {
    match kind {
        "register" => CeremonyKind::Register,
        _ => CeremonyKind::SignIn,
    }
}

impl<C: GenericClient + Sync> PasskeyTx for Tx<'_, C> {
    async fn insert_ceremony(&self, new: &NewCeremony) -> anyhow::Result<()> {
        self.db
            .execute(
                "INSERT INTO passkey_ceremonies \
                 (id_hash, kind, user_id, session_hash, state, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &new.id_hash.as_str(),
                    &new.kind.as_str(),
                    &new.user_id,
                    &new.session_hash.as_ref().map(TokenHash::as_str),
                    &new.state,
                    &new.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id_hash: &TokenHash,
        now: i64,
    ) -> anyhow::Result<Option<Ceremony>> {
        let row = self
            .db
            .query_opt(
                "DELETE FROM passkey_ceremonies WHERE id_hash = $1 \
                 RETURNING kind, user_id, session_hash, state, expires_at",
                &[&id_hash.as_str()],
            )
            .await?;
        Ok(row
            .filter(|row| row.get::<_, i64>(4) > now)
            .map(|row| Ceremony {
                kind: ceremony_kind(row.get(0)),
                user_id: row.get(1),
                session_hash: row.get(2),
                state: row.get(3),
            }))
    }

    async fn record_use(&self, used: &PasskeyUse) -> anyhow::Result<Option<i64>> {
        let row = self
            .db
            .query_opt(
                "UPDATE user_passkeys SET credential = $3, sign_count = $4, last_used_at = $5 \
                 WHERE id = $1 AND sign_count = $2 RETURNING user_id",
                &[
                    &used.passkey_id,
                    &used.checked_count,
                    &used.credential,
                    &used.sign_count,
                    &used.now,
                ],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }
}

impl Postgres {
    pub async fn begin_ceremony(
        &self,
        new: NewCeremony,
        now: i64,
    ) -> Result<Result<(), Refusal>, StorageError> {
        self.guard("begin a passkey ceremony", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = passkeys::begin(&locking(&tx), new, now).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn take_ceremony(
        &self,
        id_hash: TokenHash,
        now: i64,
    ) -> Result<Option<Ceremony>, StorageError> {
        self.guard("end a passkey ceremony", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let taken = passkeys::take(&locking(&tx), id_hash, now).await?;
            tx.commit().await?;
            Ok(taken)
        })
        .await
    }

    pub async fn peek_ceremony(
        &self,
        id_hash: TokenHash,
        now: i64,
    ) -> Result<Option<Ceremony>, StorageError> {
        self.guard("read a passkey ceremony", async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT kind, user_id, session_hash, state FROM passkey_ceremonies \
                     WHERE id_hash = $1 AND expires_at > $2",
                    &[&id_hash.as_str(), &now],
                )
                .await?;
            Ok(row.map(|row| Ceremony {
                kind: ceremony_kind(row.get(0)),
                user_id: row.get(1),
                session_hash: row.get(2),
                state: row.get(3),
            }))
        })
        .await
    }

    pub async fn use_passkey(&self, used: PasskeyUse) -> Result<PasskeyUseOutcome, StorageError> {
        self.guard("sign in with a passkey", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = passkeys::sign_in(&locking(&tx), used).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn list_passkeys(&self, user_id: i64) -> Result<Vec<PasskeyRecord>, StorageError> {
        self.guard("list passkeys", async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM user_passkeys WHERE user_id = $1 \
                         ORDER BY created_at, id"
                    ),
                    &[&user_id],
                )
                .await?;
            Ok(rows.iter().map(passkey_row).collect())
        })
        .await
    }

    pub async fn find_passkey(
        &self,
        credential_id: String,
    ) -> Result<Option<PasskeyRecord>, StorageError> {
        self.guard("find a passkey", async {
            let row = self
                .client()
                .await?
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM user_passkeys WHERE credential_id = $1"),
                    &[&credential_id],
                )
                .await?;
            Ok(row.as_ref().map(passkey_row))
        })
        .await
    }

    /// `None` when the credential is already registered (to anyone).
    pub async fn add_passkey(
        &self,
        new: NewPasskey,
        now: i64,
    ) -> Result<Option<PasskeyRecord>, StorageError> {
        self.guard("add a passkey", async {
            let row = self
                .client()
                .await?
                .query_opt(
                    &format!(
                        "INSERT INTO user_passkeys (user_id, credential_id, user_handle, \
                         credential, sign_count, name, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (credential_id) DO NOTHING RETURNING {COLUMNS}"
                    ),
                    &[
                        &new.user_id,
                        &new.credential_id,
                        &new.user_handle,
                        &new.credential,
                        &new.sign_count,
                        &new.name,
                        &now,
                    ],
                )
                .await?;
            Ok(row.as_ref().map(passkey_row))
        })
        .await
    }

    /// Whether the person has such a passkey.
    pub async fn rename_passkey(
        &self,
        user_id: i64,
        id: i64,
        name: String,
    ) -> Result<bool, StorageError> {
        self.guard("rename a passkey", async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE user_passkeys SET name = $3 WHERE id = $2 AND user_id = $1",
                    &[&user_id, &id, &name],
                )
                .await?;
            Ok(changed == 1)
        })
        .await
    }

    /// Whether the person had such a passkey.
    pub async fn remove_passkey(&self, user_id: i64, id: i64) -> Result<bool, StorageError> {
        self.guard("remove a passkey", async {
            let removed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM user_passkeys WHERE id = $2 AND user_id = $1",
                    &[&user_id, &id],
                )
                .await?;
            Ok(removed == 1)
        })
        .await
    }
}
