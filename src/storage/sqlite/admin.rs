//! What the operator's command line reads and changes: users, their addresses and
//! their sessions. Session tokens and their hashes never leave this module.

use std::collections::HashMap;

use r2d2_sqlite::rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{Sqlite, StorageError};
use crate::storage::records::{
    DatabaseOverview, DeletedUser, SessionOverview, UserOverview, UserRef,
};

const USER_COLUMNS: &str = "u.id, u.created_at, u.first_name, u.last_name, \
     (SELECT count(*) FROM user_sessions s WHERE s.user_id = u.id AND s.expires_at > ?1)";

const SESSION_SELECT: &str = "SELECT s.public_id, s.user_id, \
     coalesce((SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
      AND e.is_primary = 1), \
      (SELECT e.email FROM user_emails e WHERE e.user_id = s.user_id \
       ORDER BY e.created_at, e.email LIMIT 1)), \
     s.created_at, coalesce(s.last_seen_at, s.created_at), s.expires_at, s.user_agent \
     FROM user_sessions s WHERE s.expires_at > ?1";

impl Sqlite {
    pub async fn database_overview(&self, now: i64) -> Result<DatabaseOverview, StorageError> {
        self.run("read the database overview", move |conn| {
            Ok(DatabaseOverview {
                schema_version: conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                users: conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?,
                live_sessions: conn.query_row(
                    "SELECT count(*) FROM user_sessions WHERE expires_at > ?1",
                    [now],
                    |r| r.get(0),
                )?,
            })
        })
        .await
    }

    /// Every user, by id.
    pub async fn list_users(&self, now: i64) -> Result<Vec<UserOverview>, StorageError> {
        self.run("list users", move |conn| {
            let mut users: Vec<UserOverview> = conn
                .prepare(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"))?
                .query_map([now], user_row)?
                .collect::<Result<_, _>>()?;
            let mut emails: HashMap<i64, Vec<String>> = HashMap::new();
            let mut stmt = conn.prepare(
                "SELECT user_id, email FROM user_emails \
                     ORDER BY is_primary DESC, created_at, email",
            )?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))? {
                let (user_id, email) = row?;
                emails.entry(user_id).or_default().push(email);
            }
            let mut groups: HashMap<i64, Vec<String>> = HashMap::new();
            let mut stmt = conn.prepare(
                "SELECT ug.user_id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id \
                 ORDER BY g.name",
            )?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))? {
                let (user_id, name) = row?;
                groups.entry(user_id).or_default().push(name);
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
        self.run("find a user", move |conn| find_user(conn, &who, now))
            .await
    }

    /// Live sessions, most recently used first; only `user_id`'s when given.
    pub async fn list_live_sessions(
        &self,
        user_id: Option<i64>,
        now: i64,
    ) -> Result<Vec<SessionOverview>, StorageError> {
        self.run("list live sessions", move |conn| {
            conn.prepare(&format!(
                "{SESSION_SELECT} AND (?2 IS NULL OR s.user_id = ?2) \
                 ORDER BY coalesce(s.last_seen_at, s.created_at) DESC, s.created_at DESC"
            ))?
            .query_map(params![now, user_id], |row| {
                Ok(SessionOverview {
                    public_id: row.get(0)?,
                    user_id: row.get(1)?,
                    email: row.get(2)?,
                    created_at: row.get(3)?,
                    last_seen_at: row.get(4)?,
                    expires_at: row.get(5)?,
                    user_agent: row.get(6)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Deletes the user, their addresses, their sessions and every other row that
    /// points at them, in one transaction; `None` when there is no such user.
    pub async fn delete_user(
        &self,
        who: UserRef,
        now: i64,
    ) -> Result<Option<DeletedUser>, StorageError> {
        self.write("delete a user", move |tx| {
            let Some(user) = find_user(tx, &who, now)? else {
                return Ok(None);
            };
            let mut deleted = DeletedUser {
                user,
                emails: 0,
                sessions: 0,
                other_rows: Vec::new(),
            };
            for (table, column) in tables_referencing_users(tx)? {
                // Names come from the schema itself, never from input; quoted all the same.
                let sql = format!(
                    "DELETE FROM \"{}\" WHERE \"{}\" = ?1",
                    table.replace('"', "\"\""),
                    column.replace('"', "\"\"")
                );
                let rows = tx.execute(&sql, [deleted.user.id])?;
                match table.as_str() {
                    "user_emails" => deleted.emails += rows,
                    "user_sessions" => deleted.sessions += rows,
                    _ if rows > 0 => deleted.other_rows.push((table, rows)),
                    _ => {}
                }
            }
            tx.execute("DELETE FROM users WHERE id = ?1", [deleted.user.id])?;
            Ok(Some(deleted))
        })
        .await
    }

    /// Ends every session of `user_id`; how many of them were live.
    pub async fn revoke_user_sessions(&self, user_id: i64, now: i64) -> Result<u64, StorageError> {
        self.write("revoke a user's sessions", move |tx| {
            let live = count_live(tx, Some(user_id), now)?;
            tx.execute("DELETE FROM user_sessions WHERE user_id = ?1", [user_id])?;
            super::oidc::revoke_grants_of(tx, Some(user_id), None, now)?;
            Ok(live)
        })
        .await
    }

    /// Ends every session of everyone; how many of them were live.
    pub async fn revoke_all_sessions(&self, now: i64) -> Result<u64, StorageError> {
        self.write("revoke all sessions", move |tx| {
            let live = count_live(tx, None, now)?;
            tx.execute("DELETE FROM user_sessions", [])?;
            super::oidc::revoke_grants_of(tx, None, None, now)?;
            Ok(live)
        })
        .await
    }
}

fn user_row(row: &Row) -> r2d2_sqlite::rusqlite::Result<UserOverview> {
    Ok(UserOverview {
        id: row.get(0)?,
        created_at: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        emails: Vec::new(),
        groups: Vec::new(),
        live_sessions: row.get(4)?,
    })
}

fn find_user(
    conn: &Connection,
    who: &UserRef,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<Option<UserOverview>> {
    let found = match who {
        UserRef::Id(id) => conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?2"),
                params![now, id],
                user_row,
            )
            .optional()?,
        UserRef::Email(email) => conn
            .query_row(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users u \
                     JOIN user_emails e ON e.user_id = u.id WHERE e.email = ?2"
                ),
                params![now, email.as_str()],
                user_row,
            )
            .optional()?,
    };
    let Some(mut user) = found else {
        return Ok(None);
    };
    user.emails = conn
        .prepare(
            "SELECT email FROM user_emails WHERE user_id = ?1 \
             ORDER BY is_primary DESC, created_at, email",
        )?
        .query_map([user.id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    user.groups = super::access::groups_of(conn, user.id)?;
    Ok(Some(user))
}

fn count_live(
    tx: &Transaction,
    user_id: Option<i64>,
    now: i64,
) -> r2d2_sqlite::rusqlite::Result<u64> {
    tx.query_row(
        "SELECT count(*) FROM user_sessions WHERE expires_at > ?1 AND (?2 IS NULL OR user_id = ?2)",
        params![now, user_id],
        |r| r.get(0),
    )
}

/// Every (table, column) with a foreign key to `users`, so that tables added later
/// (passkeys, API keys …) are cleared with the user without changing this code.
fn tables_referencing_users(
    conn: &Connection,
) -> r2d2_sqlite::rusqlite::Result<Vec<(String, String)>> {
    conn.prepare(
        "SELECT m.name, f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND f.\"table\" = 'users' ORDER BY m.name",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    async fn storage_with_two_users() -> (tempfile::TempDir, Sqlite) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Sqlite::open(&dir.path().join("doorcode.db")).unwrap();
        storage
            .write("seed", |tx| {
                tx.execute_batch(
                    "INSERT INTO users (id, created_at, first_name, last_name) VALUES
                       (1, 100, 'Ada', 'Lovelace'), (2, 200, 'Grace', NULL);
                     INSERT INTO user_emails (email, user_id, created_at) VALUES
                       ('ada@example.com', 1, 100), ('ada@work.example', 1, 150),
                       ('grace@example.com', 2, 200);
                     INSERT INTO user_sessions
                       (token_hash, user_id, created_at, public_id, expires_at, last_seen_at)
                     VALUES ('h1', 1, 100, 'p1', 5000, 300), ('h2', 1, 100, 'p2', 50, 100),
                            ('h3', 2, 200, 'p3', 5000, 200);",
                )
            })
            .await
            .unwrap();
        (dir, storage)
    }

    #[tokio::test]
    async fn users_are_listed_with_their_addresses_and_live_sessions_only() {
        let (_dir, storage) = storage_with_two_users().await;
        let users = storage.list_users(1000).await.unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].emails, ["ada@example.com", "ada@work.example"]);
        assert_eq!(
            users[0].live_sessions, 1,
            "the expired session is not counted"
        );
        assert_eq!(users[1].last_name, None);
        let by_email = UserRef::Email(EmailAddress::parse("ada@work.example").unwrap());
        let found = storage.find_user(by_email, 1000).await.unwrap();
        assert_eq!(found.as_ref(), Some(&users[0]));
        assert_eq!(storage.find_user(UserRef::Id(9), 1000).await.unwrap(), None);
    }

    #[tokio::test]
    async fn deleting_a_user_removes_every_row_that_points_at_them() {
        let (_dir, storage) = storage_with_two_users().await;
        let deleted = storage
            .delete_user(UserRef::Id(1), 1000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((deleted.emails, deleted.sessions), (2, 2));
        let overview = storage.database_overview(1000).await.unwrap();
        assert_eq!((overview.users, overview.live_sessions), (1, 1));
        assert_eq!(
            storage.delete_user(UserRef::Id(1), 1000).await.unwrap(),
            None
        );
        assert_eq!(storage.revoke_all_sessions(1000).await.unwrap(), 1);
    }
}
