//! Sessions for PostgreSQL: looked up by the hash of the presented token.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Postgres, StorageError};
use crate::domain::{EmailAddress, PersonName, PublicSessionId, TokenHash};
use crate::storage::records::{NewSession, SessionRecord, SessionSummary, split_groups};

const FIND: &str = "SELECT s.user_id, u.first_name, u.last_name, \
        coalesce((SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
         AND e.is_primary), \
         (SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
          ORDER BY e.created_at, e.email LIMIT 1)), \
        s.public_id, s.created_at, s.expires_at, coalesce(s.last_seen_at, s.created_at), \
        (SELECT string_agg(g.name, ',' ORDER BY g.name COLLATE \"C\") FROM user_groups ug \
         JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = s.user_id), s.amr \
     FROM user_sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2";

pub(super) async fn insert(
    client: &impl GenericClient,
    user_id: i64,
    session: &NewSession,
    now: i64,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO user_sessions \
             (token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at, \
              amr) VALUES ($1, $2, $3, $4, $5, $6, $3, $7)",
            &[
                &session.token_hash.as_str(),
                &user_id,
                &now,
                &session.public_id.as_str(),
                &session.expires_at,
                &session.user_agent,
                &session.amr,
            ],
        )
        .await?;
    Ok(())
}

/// Expired sessions are filtered here as well as pruned.
pub(super) async fn find(
    client: &impl GenericClient,
    token_hash: &TokenHash,
    now: i64,
) -> anyhow::Result<Option<SessionRecord>> {
    let statement = client.prepare_cached(FIND).await?;
    let row = client
        .query_opt(&statement, &[&token_hash.as_str(), &now])
        .await?;
    Ok(row.as_ref().map(session_record))
}

fn session_record(row: &Row) -> SessionRecord {
    SessionRecord {
        user_id: row.get(0),
        first_name: row.get(1),
        last_name: row.get(2),
        email: EmailAddress::from_trusted(row.get::<_, Option<String>>(3).unwrap_or_default()),
        public_id: PublicSessionId::from_stored(row.get(4)),
        created_at: row.get(5),
        expires_at: row.get(6),
        last_seen_at: row.get(7),
        groups: split_groups(row.get(8)),
        amr: row.get(9),
    }
}

impl Postgres {
    pub async fn find_session(
        &self,
        token_hash: TokenHash,
        now: i64,
    ) -> Result<Option<SessionRecord>, StorageError> {
        self.guard("look up a session", async {
            find(&self.client().await?, &token_hash, now).await
        })
        .await
    }

    pub async fn touch_session(
        &self,
        token_hash: TokenHash,
        last_seen_at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.guard("record session activity", async {
            self.client()
                .await?
                .execute(
                    "UPDATE user_sessions SET last_seen_at = $2, \
                     expires_at = greatest(expires_at, $3) WHERE token_hash = $1",
                    &[&token_hash.as_str(), &last_seen_at, &expires_at],
                )
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn list_sessions(
        &self,
        user_id: i64,
        now: i64,
    ) -> Result<Vec<SessionSummary>, StorageError> {
        self.guard("list sessions", async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT public_id, created_at, coalesce(last_seen_at, created_at), expires_at, \
                     user_agent FROM user_sessions WHERE user_id = $1 AND expires_at > $2 \
                     ORDER BY coalesce(last_seen_at, created_at) DESC, created_at DESC",
                    &[&user_id, &now],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| SessionSummary {
                    public_id: PublicSessionId::from_stored(row.get(0)),
                    created_at: row.get(1),
                    last_seen_at: row.get(2),
                    expires_at: row.get(3),
                    user_agent: row.get(4),
                })
                .collect())
        })
        .await
    }

    pub async fn delete_user_session(
        &self,
        user_id: i64,
        public_id: PublicSessionId,
    ) -> Result<bool, StorageError> {
        self.guard("end a session", async {
            let n = self
                .client()
                .await?
                .execute(
                    "DELETE FROM user_sessions WHERE user_id = $1 AND public_id = $2",
                    &[&user_id, &public_id.as_str()],
                )
                .await?;
            Ok(n > 0)
        })
        .await
    }

    pub async fn delete_other_sessions(
        &self,
        user_id: i64,
        keep_token_hash: TokenHash,
    ) -> Result<usize, StorageError> {
        self.guard("end other sessions", async {
            let n = self
                .client()
                .await?
                .execute(
                    "DELETE FROM user_sessions WHERE user_id = $1 AND token_hash <> $2",
                    &[&user_id, &keep_token_hash.as_str()],
                )
                .await?;
            Ok(usize::try_from(n)?)
        })
        .await
    }

    pub async fn rename_user(&self, user_id: i64, name: PersonName) -> Result<(), StorageError> {
        self.guard("rename a user", async {
            self.client()
                .await?
                .execute(
                    "UPDATE users SET first_name = $2, last_name = $3 WHERE id = $1",
                    &[&user_id, &name.first, &name.last],
                )
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: TokenHash) -> Result<bool, StorageError> {
        self.guard("delete a session", async {
            let n = self
                .client()
                .await?
                .execute(
                    "DELETE FROM user_sessions WHERE token_hash = $1",
                    &[&token_hash.as_str()],
                )
                .await?;
            Ok(n > 0)
        })
        .await
    }
}
