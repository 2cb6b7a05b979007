//! A person's addresses for SQLite. The steps themselves are `../emails.rs`.

use r2d2_sqlite::rusqlite::params;

use super::signin::{Tx, run_step};
use super::{Sqlite, StorageError};
use crate::domain::{ChallengeId, EmailAddress};
use crate::rules::Closed;
use crate::storage::emails::{self, EmailTx};
use crate::storage::records::{
    AddressChange, AddressCode, AddressCodeOutcome, AddressStart, AddressStartOutcome,
    ChallengeInfo, NewMail, OperatorAdd, UserEmail,
};

pub(super) fn emails_of(
    conn: &r2d2_sqlite::rusqlite::Connection,
    user_id: i64,
) -> r2d2_sqlite::rusqlite::Result<Vec<UserEmail>> {
    conn.prepare_cached(
        "SELECT email, is_primary, created_at FROM user_emails WHERE user_id = ?1 \
         ORDER BY is_primary DESC, created_at, email",
    )?
    .query_map([user_id], |row| {
        Ok(UserEmail {
            email: EmailAddress::from_trusted(row.get(0)?),
            primary: row.get(1)?,
            created_at: row.get(2)?,
        })
    })?
    .collect()
}

impl EmailTx for Tx<'_> {
    async fn emails_of(&self, user_id: i64) -> anyhow::Result<Vec<UserEmail>> {
        Ok(emails_of(self.0, user_id)?)
    }

    async fn insert_email(
        &self,
        user_id: i64,
        email: &EmailAddress,
        now: i64,
    ) -> anyhow::Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
                 VALUES (?1, ?2, ?3, 0)",
            )?
            .execute(params![email.as_str(), user_id, now])?;
        Ok(())
    }

    async fn delete_email(&self, user_id: i64, email: &EmailAddress) -> anyhow::Result<()> {
        self.0
            .prepare_cached("DELETE FROM user_emails WHERE user_id = ?1 AND email = ?2")?
            .execute(params![user_id, email.as_str()])?;
        Ok(())
    }

    async fn set_primary(&self, user_id: i64, email: &EmailAddress) -> anyhow::Result<()> {
        // Cleared first: the unique index allows one primary address at a time.
        self.0
            .prepare_cached(
                "UPDATE user_emails SET is_primary = 0 WHERE user_id = ?1 AND is_primary = 1",
            )?
            .execute([user_id])?;
        self.0
            .prepare_cached(
                "UPDATE user_emails SET is_primary = 1 WHERE user_id = ?1 AND email = ?2",
            )?
            .execute(params![user_id, email.as_str()])?;
        Ok(())
    }
}

impl Sqlite {
    pub async fn start_adding_email(
        &self,
        req: AddressStart,
    ) -> Result<AddressStartOutcome, StorageError> {
        self.write_any("ask to add an address", move |tx| {
            run_step(emails::start(&Tx(tx), req))
        })
        .await
    }

    pub async fn adding_email_info(
        &self,
        id: ChallengeId,
        user_id: i64,
        session_hash: String,
        max_attempts: u32,
    ) -> Result<Result<ChallengeInfo, Closed>, StorageError> {
        Self::with(&self.readers, "read an address's challenge", move |conn| {
            run_step(emails::challenge_info(
                &Tx(conn),
                &id,
                user_id,
                &session_hash,
                max_attempts,
            ))
        })
        .await
    }

    pub async fn verify_email_code(
        &self,
        req: AddressCode,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
    ) -> Result<AddressCodeOutcome, StorageError> {
        self.write_any("add an address", move |tx| {
            run_step(emails::verify(&Tx(tx), req, &notice))
        })
        .await
    }

    pub async fn list_emails(&self, user_id: i64) -> Result<Vec<UserEmail>, StorageError> {
        self.run("list a person's addresses", move |conn| {
            emails_of(conn, user_id)
        })
        .await
    }

    pub async fn make_primary_email(
        &self,
        user_id: i64,
        email: EmailAddress,
    ) -> Result<AddressChange, StorageError> {
        self.write_any("make an address primary", move |tx| {
            run_step(emails::make_primary(&Tx(tx), user_id, &email))
        })
        .await
    }

    pub async fn remove_email(
        &self,
        user_id: i64,
        email: EmailAddress,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
        now: i64,
    ) -> Result<AddressChange, StorageError> {
        self.write_any("remove an address", move |tx| {
            run_step(emails::remove(&Tx(tx), user_id, &email, &notice, now))
        })
        .await
    }

    pub async fn add_email_by_operator(
        &self,
        user_id: i64,
        email: EmailAddress,
        primary: bool,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
        now: i64,
    ) -> Result<OperatorAdd, StorageError> {
        self.write_any("add an address", move |tx| {
            run_step(emails::add_by_operator(
                &Tx(tx),
                user_id,
                &email,
                primary,
                &notice,
                now,
            ))
        })
        .await
    }
}
