//! Sessions: looked up by the hash of the presented token, never by the token.

use r2d2_sqlite::rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Storage, StorageError};
use crate::domain::EmailAddress;

pub struct NewSession {
    pub token_hash: String,
    pub public_id: String,
    pub expires_at: i64,
}

/// A live session with the person it belongs to.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: EmailAddress,
    pub public_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub(super) fn insert(
    tx: &Transaction,
    user_id: i64,
    session: &NewSession,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO user_sessions (token_hash, user_id, created_at, public_id, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.token_hash,
            user_id,
            now,
            session.public_id,
            session.expires_at
        ],
    )?;
    Ok(())
}

/// Expired sessions are filtered here as well as pruned, so one never slips through
/// between prunes.
pub(super) fn find(
    conn: &Connection,
    token_hash: &str,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<Option<SessionRecord>> {
    conn.prepare_cached(
        "SELECT s.user_id, u.first_name, u.last_name, \
                (SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
                 ORDER BY e.created_at, e.email LIMIT 1), \
                s.public_id, s.created_at, s.expires_at \
         FROM user_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
    )?
    .query_row(params![token_hash, now], |row| {
        Ok(SessionRecord {
            user_id: row.get(0)?,
            first_name: row.get(1)?,
            last_name: row.get(2)?,
            email: EmailAddress::from_trusted(row.get::<_, Option<String>>(3)?.unwrap_or_default()),
            public_id: row.get(4)?,
            created_at: row.get(5)?,
            expires_at: row.get(6)?,
        })
    })
    .optional()
}

impl Storage {
    pub async fn find_session(
        &self,
        token_hash: String,
        now: i64,
    ) -> Result<Option<SessionRecord>, StorageError> {
        self.run("look up a session", move |conn| {
            find(conn, &token_hash, now)
        })
        .await
    }

    /// Moves a session's expiry forward; only called when much of its life is used
    /// up, so that checking a session is not a write on every request.
    pub async fn extend_session(
        &self,
        token_hash: String,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.run("extend a session", move |conn| {
            conn.execute(
                "UPDATE user_sessions SET expires_at = ?2 WHERE token_hash = ?1 AND expires_at < ?2",
                params![token_hash, expires_at],
            )
            .map(drop)
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<bool, StorageError> {
        self.run("delete a session", move |conn| {
            conn.execute(
                "DELETE FROM user_sessions WHERE token_hash = ?1",
                [token_hash],
            )
            .map(|n| n > 0)
        })
        .await
    }
}
