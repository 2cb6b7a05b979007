//! Sessions: looked up by the hash of the presented token, never by the token.

use r2d2_sqlite::rusqlite::{Connection, OptionalExtension, params};

use super::{Sqlite, StorageError};
use crate::domain::{EmailAddress, PersonName, PublicSessionId, TokenHash};
use crate::storage::records::{NewSession, SessionRecord, SessionSummary, split_groups};

pub(super) fn insert(
    tx: &Connection,
    user_id: i64,
    session: &NewSession,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO user_sessions \
         (token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at, amr) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3, ?7)",
    )?
    .execute(params![
        session.token_hash.as_str(),
        user_id,
        now,
        session.public_id.as_str(),
        session.expires_at,
        session.user_agent,
        session.amr
    ])?;
    Ok(())
}

/// Expired sessions are filtered here as well as pruned, so one never slips through
/// between prunes.
pub(super) fn find(
    conn: &Connection,
    token_hash: &TokenHash,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<Option<SessionRecord>> {
    conn.prepare_cached(
        "SELECT s.user_id, u.first_name, u.last_name, \
                coalesce((SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
                 AND e.is_primary = 1), \
                 (SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
                  ORDER BY e.created_at, e.email LIMIT 1)), \
                s.public_id, s.created_at, s.expires_at, coalesce(s.last_seen_at, s.created_at), \
                (SELECT group_concat(g.name, ',' ORDER BY g.name) FROM user_groups ug \
                 JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = s.user_id), s.amr \
         FROM user_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
    )?
    .query_row(params![token_hash.as_str(), now], |row| {
        Ok(SessionRecord {
            user_id: row.get(0)?,
            first_name: row.get(1)?,
            last_name: row.get(2)?,
            email: EmailAddress::from_trusted(row.get::<_, Option<String>>(3)?.unwrap_or_default()),
            public_id: PublicSessionId::from_stored(row.get(4)?),
            created_at: row.get(5)?,
            expires_at: row.get(6)?,
            last_seen_at: row.get(7)?,
            groups: split_groups(row.get(8)?),
            amr: row.get(9)?,
        })
    })
    .optional()
}

impl Sqlite {
    pub async fn find_session(
        &self,
        token_hash: TokenHash,
        now: i64,
    ) -> Result<Option<SessionRecord>, StorageError> {
        if let Some(found) = self.inline.try_run(|conn| find(conn, &token_hash, now)) {
            return Ok(found);
        }
        self.run("look up a session", move |conn| {
            find(conn, &token_hash, now)
        })
        .await
    }

    /// Records that a session was used, and moves its expiry forward. Called only
    /// every few minutes per session, so checking a session is not a write.
    pub async fn touch_session(
        &self,
        token_hash: TokenHash,
        last_seen_at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.write("record session activity", move |conn| {
            conn.prepare_cached(
                "UPDATE user_sessions SET last_seen_at = ?2, expires_at = max(expires_at, ?3) \
                 WHERE token_hash = ?1",
            )?
            .execute(params![token_hash.as_str(), last_seen_at, expires_at])
            .map(drop)
        })
        .await
    }

    /// A person's live sessions, most recently used first.
    pub async fn list_sessions(
        &self,
        user_id: i64,
        now: i64,
    ) -> Result<Vec<SessionSummary>, StorageError> {
        self.run("list sessions", move |conn| {
            conn.prepare_cached(
                "SELECT public_id, created_at, coalesce(last_seen_at, created_at), expires_at, user_agent \
                 FROM user_sessions WHERE user_id = ?1 AND expires_at > ?2 \
                 ORDER BY coalesce(last_seen_at, created_at) DESC, created_at DESC",
            )?
            .query_map(params![user_id, now], |row| {
                Ok(SessionSummary {
                    public_id: PublicSessionId::from_stored(row.get(0)?),
                    created_at: row.get(1)?,
                    last_seen_at: row.get(2)?,
                    expires_at: row.get(3)?,
                    user_agent: row.get(4)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Ends one of `user_id`'s sessions by its public id; false if it is not theirs.
    pub async fn delete_user_session(
        &self,
        user_id: i64,
        public_id: PublicSessionId,
    ) -> Result<bool, StorageError> {
        self.write("end a session", move |conn| {
            conn.prepare_cached("DELETE FROM user_sessions WHERE user_id = ?1 AND public_id = ?2")?
                .execute(params![user_id, public_id.as_str()])
                .map(|n| n > 0)
        })
        .await
    }

    /// Ends every session of `user_id` but the one with `keep_token_hash`.
    pub async fn delete_other_sessions(
        &self,
        user_id: i64,
        keep_token_hash: TokenHash,
    ) -> Result<usize, StorageError> {
        self.write("end other sessions", move |conn| {
            conn.prepare_cached(
                "DELETE FROM user_sessions WHERE user_id = ?1 AND token_hash <> ?2",
            )?
            .execute(params![user_id, keep_token_hash.as_str()])
        })
        .await
    }

    pub async fn rename_user(&self, user_id: i64, name: PersonName) -> Result<(), StorageError> {
        self.write("rename a user", move |conn| {
            conn.prepare_cached("UPDATE users SET first_name = ?2, last_name = ?3 WHERE id = ?1")?
                .execute(params![user_id, name.first, name.last])
                .map(drop)
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: TokenHash) -> Result<bool, StorageError> {
        self.write("delete a session", move |conn| {
            conn.prepare_cached("DELETE FROM user_sessions WHERE token_hash = ?1")?
                .execute([token_hash.as_str()])
                .map(|n| n > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::Sqlite;
    use crate::domain::{SessionToken, TokenHash};
    use crate::storage::bench_seed::seed_bench_database;

    const NOW: i64 = 1_800_000_000;

    /// A database of three signed-in people, and the token hashes of their sessions.
    fn seeded() -> (tempfile::TempDir, Sqlite, Vec<TokenHash>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.db");
        let mut tokens = Vec::new();
        seed_bench_database(&path, 3, NOW, 3600, &mut tokens).unwrap();
        let hashes = String::from_utf8(tokens)
            .unwrap()
            .lines()
            .map(|t| SessionToken::from_presented(t).unwrap().hash())
            .collect();
        (dir, Sqlite::open(&path).unwrap(), hashes)
    }

    #[tokio::test]
    async fn a_session_is_found_inline_and_with_every_inline_connection_busy() {
        let (_dir, storage, hashes) = seeded();
        // The bench's people are numbered from 1.
        let found = storage.find_session(hashes[0].clone(), NOW).await.unwrap();
        assert_eq!(found.unwrap().email.as_str(), "user1@bench.example");

        let inline = &storage.inline;
        let held: Vec<_> = inline.slots.iter().map(|s| s.lock().unwrap()).collect();
        assert!(inline.try_run(|_| Ok(())).is_none());
        let found = storage.find_session(hashes[2].clone(), NOW).await.unwrap();
        assert_eq!(found.unwrap().email.as_str(), "user3@bench.example");
        drop(held);
    }

    #[tokio::test]
    async fn an_ended_or_expired_session_is_refused_at_once() {
        let (_dir, storage, hashes) = seeded();
        for hash in &hashes {
            assert!(
                storage
                    .find_session(hash.clone(), NOW)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert!(storage.delete_session(hashes[0].clone()).await.unwrap());
        assert!(
            storage
                .find_session(hashes[0].clone(), NOW)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            storage
                .find_session(hashes[1].clone(), NOW + 3600)
                .await
                .unwrap()
                .is_none()
        );
    }
}
