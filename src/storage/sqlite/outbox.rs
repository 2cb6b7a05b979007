//! The durable mail queue. A row is written in the same transaction as its code and
//! marked sent only after the SMTP server accepted the message.

use r2d2_sqlite::rusqlite::{Connection, params};

use super::{Sqlite, StorageError};
use crate::domain::EmailAddress;
use crate::storage::records::{MAIL_LEASE_SECS, MailKind, NewMail, QueuedMail};

pub(super) fn insert(
    tx: &Connection,
    mail: &NewMail,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox (recipient, message_id, sealed_code, created_at, expires_at, \
         next_attempt_at, language, kind, about) VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, ?7, ?8)",
    )?
    .execute(params![
        mail.recipient.as_str(),
        mail.message_id,
        mail.sealed_code,
        now,
        mail.expires_at,
        mail.language,
        mail.kind.as_str(),
        mail.about.as_ref().map(EmailAddress::as_str)
    ])?;
    Ok(())
}

impl Sqlite {
    /// Messages due now, oldest first, pushed back by the lease so that another
    /// process sharing the file does not pick them up while they are being sent.
    pub async fn claim_due_mail(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StorageError> {
        self.write("claim mail from the queue", move |tx| {
            let batch: Vec<QueuedMail> = tx
                .prepare_cached(
                    "SELECT id, recipient, message_id, sealed_code, expires_at, attempts, language, kind, \
                     about FROM outbox \
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
                        language: row.get(6)?,
                        kind: MailKind::parse(&row.get::<_, String>(7)?),
                        about: row.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut lease =
                tx.prepare_cached("UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1")?;
            for mail in &batch {
                lease.execute(params![mail.id, now + MAIL_LEASE_SECS])?;
            }
            Ok(batch)
        })
        .await
    }

    /// When the next pending message is due, if any.
    pub async fn next_mail_due(&self) -> Result<Option<i64>, StorageError> {
        self.run("read the mail queue", |conn| {
            conn.prepare_cached("SELECT min(next_attempt_at) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")?.query_row([],
                |row| row.get(0),
            )
        })
        .await
    }

    pub async fn mark_mail_sent(&self, id: i64, now: i64) -> Result<(), StorageError> {
        self.write("mark mail sent", move |conn| {
            conn.prepare_cached("UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1")?.execute(params![id, now],
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
        self.write("reschedule mail", move |conn| {
            conn.prepare_cached("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1")?.execute(params![id, next_attempt_at, error],
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
        self.write("give up mail", move |conn| {
            conn.prepare_cached("UPDATE outbox SET failed_at = ?2, last_error = ?3 WHERE id = ?1")?
                .execute(params![id, now, reason])
                .map(drop)
        })
        .await
    }

    /// Messages waiting to be sent.
    pub async fn mail_queue_depth(&self) -> Result<u64, StorageError> {
        self.run("read the mail queue", |conn| {
            conn.prepare_cached(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
            )?
            .query_row([], |row| row.get(0))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use r2d2_sqlite::rusqlite::Connection;

    use super::super::{MIGRATIONS, Sqlite};

    #[tokio::test]
    async fn mail_queued_before_languages_existed_goes_out_in_english() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.db");
        {
            let conn = Connection::open(&path).unwrap();
            for step in &MIGRATIONS[..2] {
                conn.execute_batch(step).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO outbox (recipient, message_id, sealed_code, created_at, expires_at, next_attempt_at) \
                 VALUES ('old@example.com', '<m@x>', x'00', 100, 9999999999, 100)",
                [],
            )
            .unwrap();
        }
        let storage = Sqlite::open(&path).unwrap();
        let queued = storage.claim_due_mail(200, 10).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].language, "en");
        assert_eq!(
            queued[0].kind,
            Some(super::MailKind::Code),
            "all were codes"
        );
    }
}
