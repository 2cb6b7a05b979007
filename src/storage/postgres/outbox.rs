//! The durable mail queue for PostgreSQL. Workers on several instances claim due
//! messages with `FOR UPDATE SKIP LOCKED` and push them back by the lease in the
//! same statement, so each message is handed to exactly one worker.

use deadpool_postgres::GenericClient;

use super::{Postgres, StorageError};
use crate::domain::EmailAddress;
use crate::storage::records::{MAIL_LEASE_SECS, MailKind, NewMail, QueuedMail};

pub(super) async fn insert(
    tx: &impl GenericClient,
    mail: &NewMail,
    now: i64,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO outbox (recipient, message_id, sealed_code, created_at, expires_at, \
         next_attempt_at, language, kind, about) VALUES ($1, $2, $3, $4, $5, $4, $6, $7, $8)",
        &[
            &mail.recipient.as_str(),
            &mail.message_id,
            &mail.sealed_code,
            &now,
            &mail.expires_at,
            &mail.language,
            &mail.kind.as_str(),
            &mail.about.as_ref().map(EmailAddress::as_str),
        ],
    )
    .await?;
    Ok(())
}

impl Postgres {
    pub async fn claim_due_mail(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StorageError> {
        self.guard("claim mail from the queue", async {
            let rows = self
                .client()
                .await?
                .query(
                    "UPDATE outbox SET next_attempt_at = $3 WHERE id IN ( \
                       SELECT id FROM outbox \
                       WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                       ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     RETURNING id, recipient, message_id, sealed_code, expires_at, attempts, language, kind, \
                       about",
                    &[&now, &i64::from(limit), &(now + MAIL_LEASE_SECS)],
                )
                .await?;
            let mut batch: Vec<QueuedMail> = rows
                .iter()
                .map(|row| QueuedMail {
                    id: row.get(0),
                    recipient: EmailAddress::from_trusted(row.get(1)),
                    message_id: row.get(2),
                    sealed_code: row.get(3),
                    expires_at: row.get(4),
                    attempts: u32::try_from(row.get::<_, i64>(5)).unwrap_or(u32::MAX),
                    language: row.get(6),
                    kind: MailKind::parse(row.get(7)),
                    about: row.get(8),
                })
                .collect();
            batch.sort_by_key(|mail| mail.id);
            Ok(batch)
        })
        .await
    }

    pub async fn next_mail_due(&self) -> Result<Option<i64>, StorageError> {
        self.guard("read the mail queue", async {
            Ok(self
                .client()
                .await?
                .query_one(
                    "SELECT min(next_attempt_at) FROM outbox \
                     WHERE sent_at IS NULL AND failed_at IS NULL",
                    &[],
                )
                .await?
                .get(0))
        })
        .await
    }

    pub async fn mark_mail_sent(&self, id: i64, now: i64) -> Result<(), StorageError> {
        self.update_mail(
            "mark mail sent",
            "UPDATE outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1",
            id,
            now,
            None,
        )
        .await
    }

    pub async fn retry_mail_later(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: String,
    ) -> Result<(), StorageError> {
        self.update_mail(
            "reschedule mail",
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 \
             WHERE id = $1",
            id,
            next_attempt_at,
            Some(error),
        )
        .await
    }

    pub async fn give_up_mail(
        &self,
        id: i64,
        now: i64,
        reason: String,
    ) -> Result<(), StorageError> {
        self.update_mail(
            "give up mail",
            "UPDATE outbox SET failed_at = $2, last_error = $3 WHERE id = $1",
            id,
            now,
            Some(reason),
        )
        .await
    }

    async fn update_mail(
        &self,
        what: &'static str,
        sql: &'static str,
        id: i64,
        at: i64,
        text: Option<String>,
    ) -> Result<(), StorageError> {
        self.guard(what, async {
            let client = self.client().await?;
            match &text {
                Some(text) => client.execute(sql, &[&id, &at, text]).await?,
                None => client.execute(sql, &[&id, &at]).await?,
            };
            Ok(())
        })
        .await
    }

    pub async fn mail_queue_depth(&self) -> Result<u64, StorageError> {
        self.guard("read the mail queue", async {
            let depth: i64 = self
                .client()
                .await?
                .query_one(
                    "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                    &[],
                )
                .await?
                .get(0);
            Ok(u64::try_from(depth)?)
        })
        .await
    }
}
