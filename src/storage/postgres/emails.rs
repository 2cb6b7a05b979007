//! A person's addresses for PostgreSQL. The steps themselves are `../emails.rs`.

use deadpool_postgres::GenericClient;

use super::signin::{Tx, locking, reading};
use super::{Postgres, StorageError};
use crate::domain::{ChallengeId, EmailAddress};
use crate::rules::Closed;
use crate::storage::emails::{self, EmailTx};
use crate::storage::records::{
    AddressChange, AddressCode, AddressCodeOutcome, AddressStart, AddressStartOutcome,
    ChallengeInfo, NewMail, OperatorAdd, UserEmail,
};

async fn emails_of(client: &impl GenericClient, user_id: i64) -> anyhow::Result<Vec<UserEmail>> {
    let rows = client
        .query(
            "SELECT email, is_primary, created_at FROM user_emails WHERE user_id = $1 \
             ORDER BY is_primary DESC, created_at, email",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| UserEmail {
            email: EmailAddress::from_trusted(row.get(0)),
            primary: row.get(1),
            created_at: row.get(2),
        })
        .collect())
}

impl<C: GenericClient + Sync> EmailTx for Tx<'_, C> {
    async fn emails_of(&self, user_id: i64) -> anyhow::Result<Vec<UserEmail>> {
        emails_of(self.db, user_id).await
    }

    async fn insert_email(
        &self,
        user_id: i64,
        email: &EmailAddress,
        now: i64,
    ) -> anyhow::Result<()> {
        self.db
            .execute(
                "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
                 VALUES ($1, $2, $3, false)",
                &[&email.as_str(), &user_id, &now],
            )
            .await?;
        Ok(())
    }

    async fn delete_email(&self, user_id: i64, email: &EmailAddress) -> anyhow::Result<()> {
        self.db
            .execute(
                "DELETE FROM user_emails WHERE user_id = $1 AND email = $2",
                &[&user_id, &email.as_str()],
            )
            .await?;
        Ok(())
    }

    async fn set_primary(&self, user_id: i64, email: &EmailAddress) -> anyhow::Result<()> {
        // Cleared first: the unique index allows one primary address at a time.
        self.db
            .execute(
                "UPDATE user_emails SET is_primary = false WHERE user_id = $1 AND is_primary",
                &[&user_id],
            )
            .await?;
        self.db
            .execute(
                "UPDATE user_emails SET is_primary = true WHERE user_id = $1 AND email = $2",
                &[&user_id, &email.as_str()],
            )
            .await?;
        Ok(())
    }
}

impl Postgres {
    pub async fn start_adding_email(
        &self,
        req: AddressStart,
    ) -> Result<AddressStartOutcome, StorageError> {
        self.guard("ask to add an address", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = emails::start(&locking(&tx), req).await?;
            tx.commit().await?;
            Ok(outcome)
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
        self.guard("read an address's challenge", async {
            let client = self.client().await?;
            emails::challenge_info(&reading(&client), &id, user_id, &session_hash, max_attempts)
                .await
        })
        .await
    }

    pub async fn verify_email_code(
        &self,
        req: AddressCode,
        notice: impl Fn(&EmailAddress, &EmailAddress) -> NewMail + Send + Sync + 'static,
    ) -> Result<AddressCodeOutcome, StorageError> {
        self.guard("add an address", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = emails::verify(&locking(&tx), req, &notice).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    pub async fn list_emails(&self, user_id: i64) -> Result<Vec<UserEmail>, StorageError> {
        self.guard("list a person's addresses", async {
            emails_of(&self.client().await?, user_id).await
        })
        .await
    }

    pub async fn make_primary_email(
        &self,
        user_id: i64,
        email: EmailAddress,
    ) -> Result<AddressChange, StorageError> {
        self.guard("make an address primary", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = emails::make_primary(&locking(&tx), user_id, &email).await?;
            tx.commit().await?;
            Ok(outcome)
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
        self.guard("remove an address", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome = emails::remove(&locking(&tx), user_id, &email, &notice, now).await?;
            tx.commit().await?;
            Ok(outcome)
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
        self.guard("add an address", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let outcome =
                emails::add_by_operator(&locking(&tx), user_id, &email, primary, &notice, now)
                    .await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }
}
