//! The operator's queries of `../admin.rs`, for PostgreSQL.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Postgres, StorageError};
use crate::storage::records::{
    DatabaseOverview, DeletedUser, SessionOverview, UserOverview, UserRef,
};

const USER_COLUMNS: &str = "u.id, u.created_at, u.first_name, u.last_name, \
     (SELECT count(*) FROM user_sessions s WHERE s.user_id = u.id AND s.expires_at > $1)";

fn user_row(row: &Row) -> UserOverview {
    UserOverview {
        id: row.get(0),
        created_at: row.get(1),
        first_name: row.get(2),
        last_name: row.get(3),
        emails: Vec::new(),
        groups: Vec::new(),
        live_sessions: u64::try_from(row.get::<_, i64>(4)).unwrap_or(0),
    }
}

fn count(row: &Row) -> u64 {
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

async fn find_user(
    client: &impl GenericClient,
    who: &UserRef,
    now: i64,
) -> anyhow::Result<Option<UserOverview>> {
    let row = match who {
        UserRef::Id(id) => {
            let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $2");
            client.query_opt(&sql, &[&now, id]).await?
        }
        UserRef::Email(email) => {
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM users u \
                 JOIN user_emails e ON e.user_id = u.id WHERE e.email = $2"
            );
            client.query_opt(&sql, &[&now, &email.as_str()]).await?
        }
    };
    let Some(mut user) = row.as_ref().map(user_row) else {
        return Ok(None);
    };
    user.emails = client
        .query(
            "SELECT email FROM user_emails WHERE user_id = $1 \
             ORDER BY is_primary DESC, created_at, email",
            &[&user.id],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    user.groups = super::access::groups_of(client, user.id).await?;
    Ok(Some(user))
}

async fn count_live(
    client: &impl GenericClient,
    user_id: Option<i64>,
    now: i64,
) -> anyhow::Result<u64> {
    let row = client
        .query_one(
            "SELECT count(*) FROM user_sessions \
             WHERE expires_at > $1 AND ($2::BIGINT IS NULL OR user_id = $2)",
            &[&now, &user_id],
        )
        .await?;
    Ok(count(&row))
}

impl Postgres {
    pub async fn database_overview(&self, now: i64) -> Result<DatabaseOverview, StorageError> {
        self.guard("read the database overview", async {
            let client = self.client().await?;
            let version = client.query_one("SELECT version FROM schema_version", &[]);
            Ok(DatabaseOverview {
                schema_version: version.await?.get(0),
                users: count(&client.query_one("SELECT count(*) FROM users", &[]).await?),
                live_sessions: count_live(&client, None, now).await?,
            })
        })
        .await
    }

    pub async fn list_users(&self, now: i64) -> Result<Vec<UserOverview>, StorageError> {
        self.guard("list users", async {
            let client = self.client().await?;
            let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id");
            let mut users: Vec<UserOverview> = client
                .query(&sql, &[&now])
                .await?
                .iter()
                .map(user_row)
                .collect();
            let mut emails: HashMap<i64, Vec<String>> = HashMap::new();
            let rows = client
                .query(
                    "SELECT user_id, email FROM user_emails \
                     ORDER BY is_primary DESC, created_at, email",
                    &[],
                )
                .await?;
            for row in &rows {
                emails.entry(row.get(0)).or_default().push(row.get(1));
            }
            let mut groups: HashMap<i64, Vec<String>> = HashMap::new();
            let rows = client
                .query(
                    "SELECT ug.user_id, g.name FROM user_groups ug \
                     JOIN groups g ON g.id = ug.group_id ORDER BY g.name COLLATE \"C\"",
                    &[],
                )
                .await?;
            for row in &rows {
                groups.entry(row.get(0)).or_default().push(row.get(1));
            }
            for user in &mut users {
                user.emails = emails.remove(&user.id).unwrap_or_default();
                user.groups = groups.remove(&user.id).unwrap_or_default();
            }
            Ok(users)
        })
        .await
    }

    pub async fn find_user(
        &self,
        who: UserRef,
        now: i64,
    ) -> Result<Option<UserOverview>, StorageError> {
        self.guard("find a user", async {
            find_user(&self.client().await?, &who, now).await
        })
        .await
    }

    pub async fn list_live_sessions(
        &self,
        user_id: Option<i64>,
        now: i64,
    ) -> Result<Vec<SessionOverview>, StorageError> {
        self.guard("list live sessions", async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT s.public_id, s.user_id, \
                       coalesce((SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
                        AND e.is_primary), \
                        (SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
                         ORDER BY e.created_at, e.email LIMIT 1)), \
                       s.created_at, coalesce(s.last_seen_at, s.created_at), s.expires_at, \
                       s.user_agent \
                     FROM user_sessions s WHERE s.expires_at > $1 \
                       AND ($2::BIGINT IS NULL OR s.user_id = $2) \
                     ORDER BY coalesce(s.last_seen_at, s.created_at) DESC, s.created_at DESC",
                    &[&now, &user_id],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| SessionOverview {
                    public_id: row.get(0),
                    user_id: row.get(1),
                    email: row.get(2),
                    created_at: row.get(3),
                    last_seen_at: row.get(4),
                    expires_at: row.get(5),
                    user_agent: row.get(6),
                })
                .collect())
        })
        .await
    }

    /// Clears every table with a foreign key to `users`, found in the catalogue, so
    /// tables added later are cleared without changing this code.
    pub async fn delete_user(
        &self,
        who: UserRef,
        now: i64,
    ) -> Result<Option<DeletedUser>, StorageError> {
        self.guard("delete a user", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(user) = find_user(&tx, &who, now).await? else {
                return Ok(None);
            };
            let mut deleted = DeletedUser {
                user,
                emails: 0,
                sessions: 0,
                other_rows: Vec::new(),
            };
            let references = tx
                .query(
                    "SELECT cl.relname::TEXT, a.attname::TEXT FROM pg_constraint c \
                     JOIN pg_class cl ON cl.oid = c.conrelid \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                     WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass \
                     ORDER BY cl.relname",
                    &[],
                )
                .await?;
            for reference in &references {
                let (table, column): (String, String) = (reference.get(0), reference.get(1));
                // Names come from the catalogue, never from input; quoted all the same.
                let sql = format!(
                    "DELETE FROM \"{}\" WHERE \"{}\" = $1",
                    table.replace('"', "\"\""),
                    column.replace('"', "\"\"")
                );
                let rows = usize::try_from(tx.execute(&sql, &[&deleted.user.id]).await?)?;
                match table.as_str() {
                    "user_emails" => deleted.emails += rows,
                    "user_sessions" => deleted.sessions += rows,
                    _ if rows > 0 => deleted.other_rows.push((table, rows)),
                    _ => {}
                }
            }
            tx.execute("DELETE FROM users WHERE id = $1", &[&deleted.user.id])
                .await?;
            tx.commit().await?;
            Ok(Some(deleted))
        })
        .await
    }

    pub async fn revoke_user_sessions(&self, user_id: i64, now: i64) -> Result<u64, StorageError> {
        self.guard("revoke a user's sessions", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let live = count_live(&tx, Some(user_id), now).await?;
            tx.execute("DELETE FROM user_sessions WHERE user_id = $1", &[&user_id])
                .await?;
            super::oidc::revoke_grants_of(&tx, Some(user_id), None, now).await?;
            tx.commit().await?;
            Ok(live)
        })
        .await
    }

    pub async fn revoke_all_sessions(&self, now: i64) -> Result<u64, StorageError> {
        self.guard("revoke all sessions", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let live = count_live(&tx, None, now).await?;
            tx.execute("DELETE FROM user_sessions", &[]).await?;
            super::oidc::revoke_grants_of(&tx, None, None, now).await?;
            tx.commit().await?;
            Ok(live)
        })
        .await
    }
}
