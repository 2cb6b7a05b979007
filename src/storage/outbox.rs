//! The durable mail queue. A row is written in the same transaction as its code and
//! marked sent only after the SMTP server accepted the message.

use r2d2_sqlite::rusqlite::{Transaction, params};

use super::{Storage, StorageError};
use crate::domain::EmailAddress;

pub struct NewMail {
    pub recipient: EmailAddress,
    pub message_id: String,
    pub sealed_code: Vec<u8>,
    /// The code's expiry: the message is never sent after it.
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: EmailAddress,
    pub message_id: String,
    pub sealed_code: Vec<u8>,
    pub expires_at: i64,
    pub attempts: u32,
}

pub(super) fn insert(
    tx: &Transaction,
    mail: &NewMail,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO outbox (recipient, message_id, sealed_code, created_at, expires_at, next_attempt_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
        params![mail.recipient.as_str(), mail.message_id, mail.sealed_code, now, mail.expires_at],
    )?;
    Ok(())
}

impl Storage {
    /// Messages due now, oldest first.
    pub async fn due_mail(&self, now: i64, limit: u32) -> Result<Vec<QueuedMail>, StorageError> {
        self.run("read the mail queue", move |conn| {
            conn.prepare_cached(
                "SELECT id, recipient, message_id, sealed_code, expires_at, attempts FROM outbox \
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1 \
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?
            .query_map(params![now, limit], |row| {
                Ok(QueuedMail {
                    id: row.get(0)?,
                    recipient: EmailAddress::from_trusted(row.get(1)?),
                    message_id: row.get(2)?,
                    sealed_code: row.get(3)?,
                    expires_at: row.get(4)?,
                    attempts: row.get(5)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// When the next pending message is due, if any.
    pub async fn next_mail_due(&self) -> Result<Option<i64>, StorageError> {
        self.run("read the mail queue", |conn| {
            conn.query_row(
                "SELECT min(next_attempt_at) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                [],
                |row| row.get(0),
            )
        })
        .await
    }

    pub async fn mark_mail_sent(&self, id: i64, now: i64) -> Result<(), StorageError> {
        self.run("mark mail sent", move |conn| {
            conn.execute(
                "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![id, now],
            )
            .map(drop)
        })
        .await
    }

    pub async fn retry_mail_later(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: String,
    ) -> Result<(), StorageError> {
        self.run("reschedule mail", move |conn| {
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, next_attempt_at, error],
            )
            .map(drop)
        })
        .await
    }

    /// Gives a message up for good: refused by the server, or its code has expired.
    pub async fn give_up_mail(
        &self,
        id: i64,
        now: i64,
        reason: String,
    ) -> Result<(), StorageError> {
        self.run("give up mail", move |conn| {
            conn.execute(
                "UPDATE outbox SET failed_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, now, reason],
            )
            .map(drop)
        })
        .await
    }

    /// Messages waiting to be sent.
    pub async fn mail_queue_depth(&self) -> Result<u64, StorageError> {
        self.run("read the mail queue", |conn| {
            conn.query_row(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                [],
                |row| row.get(0),
            )
        })
        .await
    }
}
