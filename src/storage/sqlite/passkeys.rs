//! Passkeys for SQLite: the credentials (public material only) and the
//! ceremonies under way. The ceremony steps themselves are `../passkeys.rs`.

use r2d2_sqlite::rusqlite::{self, OptionalExtension, Row, params};

use super::signin::{Tx, run_step};
use super::{Sqlite, StorageError};
use crate::domain::TokenHash;
use crate::rules::Refusal;
use crate::storage::passkeys::{self, PasskeyTx};
use crate::storage::records::{
    Ceremony, CeremonyKind, NewCeremony, NewPasskey, PasskeyRecord, PasskeyUse, PasskeyUseOutcome,
};

const COLUMNS: &str = "id, user_id, credential_id, user_handle, credential, sign_count, name, \
     created_at, last_used_at";

fn passkey_row(row: &Row) -> rusqlite::Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        credential_id: row.get(2)?,
        user_handle: row.get(3)?,
        credential: row.get(4)?,
        sign_count: row.get(5)?,
        name: row.get(6)?,
        created_at: row.get(7)?,
        last_used_at: row.get(8)?,
    })
}

fn ceremony_kind(kind: &str) -> CeremonyKind {
    match kind {
        "register" => CeremonyKind::Register,
        _ => CeremonyKind::SignIn,
    }
}

impl PasskeyTx for Tx<'_> {
    async fn insert_ceremony(&self, new: &NewCeremony) -> anyhow::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO passkey_ceremonies \
                 (id_hash, kind, user_id, session_hash, state, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                new.id_hash.as_str(),
                new.kind.as_str(),
                new.user_id,
                new.session_hash.as_ref().map(TokenHash::as_str),
                new.state,
                new.expires_at
            ])?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id_hash: &TokenHash,
        now: i64,
    ) -> anyhow::Result<Option<Ceremony>> {
        let taken = self
            .0
            .prepare_cached(
                "DELETE FROM passkey_ceremonies WHERE id_hash = ?1 \
                 RETURNING kind, user_id, session_hash, state, expires_at",
            )?
            .query_row([id_hash.as_str()], |row| {
                Ok((
                    Ceremony {
                        kind: ceremony_kind(&row.get::<_, String>(0)?),
                        user_id: row.get(1)?,
                        session_hash: row.get(2)?,
                        state: row.get(3)?,
                    },
                    row.get::<_, i64>(4)?,
                ))
            })
            .optional()?;
        Ok(taken.and_then(|(ceremony, expires_at)| (expires_at > now).then_some(ceremony)))
    }

    async fn record_use(&self, used: &PasskeyUse) -> anyhow::Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached(
                "UPDATE user_passkeys SET credential = ?3, sign_count = ?4, last_used_at = ?5 \
                 WHERE id = ?1 AND sign_count = ?2 RETURNING user_id",
            )?
            .query_row(
                params![
                    used.passkey_id,
                    used.checked_count,
                    used.credential,
                    used.sign_count,
                    used.now
                ],
                |row| row.get(0),
            )
            .optional()?)
    }
}

impl Sqlite {
    pub async fn begin_ceremony(
        &self,
        new: NewCeremony,
        now: i64,
    ) -> Result<Result<(), Refusal>, StorageError> {
        self.write_any("begin a passkey ceremony", move |tx| {
            run_step(passkeys::begin(&Tx(tx), new, now))
        })
        .await
    }

    pub async fn take_ceremony(
        &self,
        id_hash: TokenHash,
        now: i64,
    ) -> Result<Option<Ceremony>, StorageError> {
        self.write_any("end a passkey ceremony", move |tx| {
            run_step(passkeys::take(&Tx(tx), id_hash, now))
        })
        .await
    }

    pub async fn peek_ceremony(
        &self,
        id_hash: TokenHash,
        now: i64,
    ) -> Result<Option<Ceremony>, StorageError> {
        self.run("read a passkey ceremony", move |conn| {
            conn.prepare_cached(
                "SELECT kind, user_id, session_hash, state FROM passkey_ceremonies \
                 WHERE id_hash = ?1 AND expires_at > ?2",
            )?
            .query_row(params![id_hash.as_str(), now], |row| {
                Ok(Ceremony {
                    kind: ceremony_kind(&row.get::<_, String>(0)?),
                    user_id: row.get(1)?,
                    session_hash: row.get(2)?,
                    state: row.get(3)?,
                })
            })
            .optional()
        })
        .await
    }

    pub async fn use_passkey(&self, used: PasskeyUse) -> Result<PasskeyUseOutcome, StorageError> {
        self.write_any("sign in with a passkey", move |tx| {
            run_step(passkeys::sign_in(&Tx(tx), used))
        })
        .await
    }

    pub async fn list_passkeys(&self, user_id: i64) -> Result<Vec<PasskeyRecord>, StorageError> {
        self.run("list passkeys", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM user_passkeys WHERE user_id = ?1 ORDER BY created_at, id"
            ))?
            .query_map([user_id], passkey_row)?
            .collect()
        })
        .await
    }

    pub async fn find_passkey(
        &self,
        credential_id: String,
    ) -> Result<Option<PasskeyRecord>, StorageError> {
        self.run("find a passkey", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM user_passkeys WHERE credential_id = ?1"
            ))?
            .query_row([credential_id], passkey_row)
            .optional()
        })
        .await
    }

    /// `None` when the credential is already registered (to anyone).
    pub async fn add_passkey(
        &self,
        new: NewPasskey,
        now: i64,
    ) -> Result<Option<PasskeyRecord>, StorageError> {
        self.write("add a passkey", move |tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO user_passkeys \
                 (user_id, credential_id, user_handle, credential, sign_count, name, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (credential_id) DO NOTHING RETURNING {COLUMNS}"
            ))?
            .query_row(
                params![
                    new.user_id,
                    new.credential_id,
                    new.user_handle,
                    new.credential,
                    new.sign_count,
                    new.name,
                    now
                ],
                passkey_row,
            )
            .optional()
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
        self.write("rename a passkey", move |tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE user_passkeys SET name = ?3 WHERE id = ?2 AND user_id = ?1",
                )?
                .execute(params![user_id, id, name])?
                == 1)
        })
        .await
    }

    /// Whether the person had such a passkey.
    pub async fn remove_passkey(&self, user_id: i64, id: i64) -> Result<bool, StorageError> {
        self.write("remove a passkey", move |tx| {
            Ok(tx
                .prepare_cached("DELETE FROM user_passkeys WHERE id = ?2 AND user_id = ?1")?
                .execute(params![user_id, id])?
                == 1)
        })
        .await
    }
}
