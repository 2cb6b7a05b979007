//! `doorcode migrate-to-postgres`: copies a SQLite database into PostgreSQL so that
//! nobody is signed out by the move. Idempotent: rows already there are skipped, so
//! the copy can be run again (say, once more just before the switch).

use std::path::Path;

use anyhow::{Context, bail};
use r2d2_sqlite::rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::ToSql;

use super::Postgres;

/// Rows per INSERT; each column travels as one array parameter.
const CHUNK: usize = 5_000;

/// How many rows of each table were read from SQLite and how many were new.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, usize, u64)>,
}

/// One table to copy: the SQLite query, and the PostgreSQL statement that takes its
/// columns as arrays (`unnest`) and skips rows already present.
struct Table {
    name: &'static str,
    select: &'static str,
    kinds: &'static [Kind],
    insert: &'static str,
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Bytes,
}

enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

const TABLES: &[Table] = &[
    Table {
        name: "users",
        select: "SELECT id, created_at, first_name, last_name, avatar_url FROM users ORDER BY id",
        kinds: &[Kind::Int, Kind::Int, Kind::Text, Kind::Text, Kind::Text],
        insert: "INSERT INTO users (id, created_at, first_name, last_name, avatar_url) \
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) \
                 ON CONFLICT (id) DO NOTHING",
    },
    Table {
        name: "user_emails",
        select: "SELECT email, user_id, created_at, is_primary FROM user_emails ORDER BY email",
        kinds: &[Kind::Text, Kind::Int, Kind::Int, Kind::Int],
        // Which address is primary is set once all are in (`set_primaries`): a
        // second run may bring a new primary while the old one is still here.
        insert: "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
                 SELECT e, u, c, false FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[], \
                 $4::BIGINT[]) AS n (e, u, c, p) ON CONFLICT (email) DO NOTHING",
    },
    Table {
        name: "groups",
        select: "SELECT id, name, created_at FROM groups ORDER BY id",
        kinds: &[Kind::Int, Kind::Text, Kind::Int],
        insert: "INSERT INTO groups (id, name, created_at) \
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "user_groups",
        select: "SELECT user_id, group_id, created_at FROM user_groups ORDER BY user_id, group_id",
        kinds: &[Kind::Int, Kind::Int, Kind::Int],
        insert: "INSERT INTO user_groups (user_id, group_id, created_at) \
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "invitations",
        select: "SELECT id, email, created_at, expires_at, used_at, revoked_at FROM invitations \
                 ORDER BY id",
        kinds: &[
            Kind::Int,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
        ],
        insert: "INSERT INTO invitations (id, email, created_at, expires_at, used_at, revoked_at) \
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], \
                 $5::BIGINT[], $6::BIGINT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "invitation_groups",
        select: "SELECT invitation_id, group_id FROM invitation_groups \
                 ORDER BY invitation_id, group_id",
        kinds: &[Kind::Int, Kind::Int],
        insert: "INSERT INTO invitation_groups (invitation_id, group_id) \
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "user_sessions",
        select: "SELECT token_hash, user_id, created_at, public_id, expires_at, user_agent, \
                 last_seen_at, amr FROM user_sessions WHERE expires_at > ?1 ORDER BY token_hash",
        kinds: &[
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Text,
            Kind::Int,
            Kind::Text,
            Kind::Int,
            Kind::Text,
        ],
        insert: "INSERT INTO user_sessions \
                 (token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at, \
                  amr) \
                 SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], \
                 $5::BIGINT[], $6::TEXT[], $7::BIGINT[], $8::TEXT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "login_challenges",
        select: "SELECT id, email, browser_hash, created_at, expires_at, attempts, verified_at, \
                 finished_at, user_id, session_hash FROM login_challenges WHERE expires_at > ?1 \
                 ORDER BY id",
        kinds: &[
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Text,
        ],
        insert: "INSERT INTO login_challenges \
                 (id, email, browser_hash, created_at, expires_at, attempts, verified_at, finished_at, \
                  user_id, session_hash) \
                 SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], \
                 $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::TEXT[]) \
                 ON CONFLICT (id) DO NOTHING",
    },
    Table {
        name: "login_codes",
        select: "SELECT c.challenge_id, c.code_hash, c.expires_at FROM login_codes c \
                 JOIN login_challenges l ON l.id = c.challenge_id \
                 WHERE c.expires_at > ?1 AND l.expires_at > ?1 ORDER BY c.challenge_id",
        kinds: &[Kind::Text, Kind::Text, Kind::Int],
        insert: "INSERT INTO login_codes (challenge_id, code_hash, expires_at) \
                 SELECT n.* FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[]) \
                   AS n (challenge_id, code_hash, expires_at) \
                 WHERE NOT EXISTS (SELECT 1 FROM login_codes c \
                   WHERE c.challenge_id = n.challenge_id AND c.code_hash = n.code_hash)",
    },
    Table {
        name: "outbox",
        select: "SELECT recipient, message_id, sealed_code, created_at, expires_at, attempts, \
                 next_attempt_at, language, kind, about FROM outbox \
                 WHERE sent_at IS NULL AND failed_at IS NULL AND expires_at > ?1 ORDER BY id",
        kinds: &[
            Kind::Text,
            Kind::Text,
            Kind::Bytes,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Text,
        ],
        insert: "INSERT INTO outbox (recipient, message_id, sealed_code, created_at, expires_at, \
                   attempts, next_attempt_at, language, kind, about) \
                 SELECT n.* FROM unnest($1::TEXT[], $2::TEXT[], $3::BYTEA[], $4::BIGINT[], \
                   $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::TEXT[]) \
                   AS n (recipient, message_id, sealed_code, created_at, expires_at, attempts, \
                   next_attempt_at, language, kind, about) \
                 WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = n.message_id)",
    },
    Table {
        name: "oidc_keys",
        select: "SELECT kid, alg, sealed_private, public_jwk, created_at, retired_at FROM oidc_keys \
                 ORDER BY created_at",
        kinds: &[
            Kind::Text,
            Kind::Text,
            Kind::Bytes,
            Kind::Text,
            Kind::Int,
            Kind::Int,
        ],
        insert: "INSERT INTO oidc_keys (kid, alg, sealed_private, public_jwk, created_at, retired_at) \
                 SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BYTEA[], $4::TEXT[], \
                 $5::BIGINT[], $6::BIGINT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "oidc_clients",
        select: "SELECT id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
                 skip_consent, allowed_groups, created_at FROM oidc_clients ORDER BY id",
        kinds: &[
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Text,
            Kind::Int,
        ],
        insert: "INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, \
                   post_logout_redirect_uris, skip_consent, allowed_groups, created_at) \
                 SELECT id, name, secret_hash, redirect_uris, post_logout, skip <> 0, groups, created \
                 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
                   $6::BIGINT[], $7::TEXT[], $8::BIGINT[]) \
                   AS n (id, name, secret_hash, redirect_uris, post_logout, skip, groups, created) \
                 ON CONFLICT DO NOTHING",
    },
    Table {
        name: "oidc_consents",
        select: "SELECT user_id, client_id, scope, created_at FROM oidc_consents \
                 ORDER BY user_id, client_id",
        kinds: &[Kind::Int, Kind::Text, Kind::Text, Kind::Int],
        insert: "INSERT INTO oidc_consents (user_id, client_id, scope, created_at) \
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[]) \
                 ON CONFLICT DO NOTHING",
    },
    Table {
        name: "oidc_grants",
        select: "SELECT id, code_hash, client_id, user_id, redirect_uri, scope, nonce, \
                 code_challenge, auth_time, created_at, code_expires_at, code_used_at, revoked_at, \
                 expires_at, amr FROM oidc_grants WHERE expires_at > ?1 ORDER BY id",
        kinds: &[
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Text,
        ],
        insert: "INSERT INTO oidc_grants (id, code_hash, client_id, user_id, redirect_uri, scope, \
                   nonce, code_challenge, auth_time, created_at, code_expires_at, code_used_at, \
                   revoked_at, expires_at, amr) \
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], \
                   $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BIGINT[], $10::BIGINT[], \
                   $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[], $15::TEXT[]) \
                 ON CONFLICT DO NOTHING",
    },
    Table {
        name: "oidc_tokens",
        select: "SELECT t.token_hash, t.grant_id, t.kind, t.created_at, t.expires_at, t.used_at \
                 FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
                 WHERE t.expires_at > ?1 AND g.expires_at > ?1 ORDER BY t.token_hash",
        kinds: &[
            Kind::Text,
            Kind::Int,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Int,
        ],
        insert: "INSERT INTO oidc_tokens (token_hash, grant_id, kind, created_at, expires_at, used_at) \
                 SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], \
                   $5::BIGINT[], $6::BIGINT[]) ON CONFLICT DO NOTHING",
    },
    Table {
        name: "user_passkeys",
        select: "SELECT id, credential_id, user_id, user_handle, credential, sign_count, name, \
                 created_at, last_used_at FROM user_passkeys ORDER BY id",
        kinds: &[
            Kind::Int,
            Kind::Text,
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Text,
            Kind::Int,
            Kind::Int,
        ],
        insert: "INSERT INTO user_passkeys (id, credential_id, user_id, user_handle, credential, \
                 sign_count, name, created_at, last_used_at) \
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], \
                   $5::TEXT[], $6::BIGINT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[]) \
                 ON CONFLICT DO NOTHING",
    },
];

/// Reads every column of `table`'s rows from SQLite.
fn read(conn: &Connection, table: &Table, now: i64) -> anyhow::Result<(usize, Vec<Column>)> {
    let mut stmt = conn.prepare(table.select)?;
    let mut columns: Vec<Column> = table
        .kinds
        .iter()
        .map(|kind| match kind {
            Kind::Int => Column::Int(Vec::new()),
            Kind::Text => Column::Text(Vec::new()),
            Kind::Bytes => Column::Bytes(Vec::new()),
        })
        .collect();
    let mut rows = if table.select.contains("?1") {
        stmt.query([now])?
    } else {
        stmt.query([])?
    };
    let mut count = 0;
    while let Some(row) = rows.next()? {
        for (i, column) in columns.iter_mut().enumerate() {
            match column {
                Column::Int(values) => values.push(row.get(i)?),
                Column::Text(values) => values.push(row.get(i)?),
                Column::Bytes(values) => values.push(row.get(i)?),
            }
        }
        count += 1;
    }
    Ok((count, columns))
}

impl Postgres {
    /// Copies the live contents of the SQLite file at `from` into this database in
    /// one transaction. Refuses, changing nothing, when an address or a user id
    /// already belongs to someone else here.
    pub async fn copy_from_sqlite(&self, from: &Path, now: i64) -> anyhow::Result<CopyReport> {
        let path = from.to_owned();
        let tables = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version == 0 {
                bail!("{} is not a doorcode database", path.display());
            }
            TABLES
                .iter()
                .map(|table| {
                    read(&conn, table, now).with_context(|| format!("cannot read {}", table.name))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await??;

        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut report = CopyReport::default();
        for (table, (read, columns)) in TABLES.iter().zip(&tables) {
            let mut added = 0;
            for start in (0..*read).step_by(CHUNK) {
                let end = (start + CHUNK).min(*read);
                let chunks: Vec<Box<dyn ToSql + Sync>> = columns
                    .iter()
                    .map(|column| -> Box<dyn ToSql + Sync> {
                        match column {
                            Column::Int(v) => Box::new(v[start..end].to_vec()),
                            Column::Text(v) => Box::new(v[start..end].to_vec()),
                            Column::Bytes(v) => Box::new(v[start..end].to_vec()),
                        }
                    })
                    .collect();
                let params: Vec<&(dyn ToSql + Sync)> = chunks.iter().map(|b| b.as_ref()).collect();
                added += tx
                    .execute(table.insert, &params)
                    .await
                    .with_context(|| format!("cannot copy {}", table.name))?;
            }
            report.tables.push((table.name, *read, added));
        }
        check_same_people(&tx, &tables[0].1, &tables[1].1).await?;
        set_primaries(&tx, &tables[1].1).await?;
        check_same_rows(&tx, "groups", "name", &tables[2].1).await?;
        check_same_rows(&tx, "invitations", "email", &tables[4].1).await?;
        // A token copied onto another authorization would change hands.
        check_same_rows(&tx, "oidc_grants", "code_hash", &tables[13].1).await?;
        // So would a passkey.
        check_same_rows(&tx, "user_passkeys", "credential_id", &tables[15].1).await?;
        // Later sign-ups, groups and invitations must not reuse a copied id.
        for table in [
            "users",
            "groups",
            "invitations",
            "oidc_grants",
            "user_passkeys",
        ] {
            tx.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 greatest((SELECT max(id) FROM {table}), 1))"
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// Makes each copied person's primary address the one SQLite has, clearing first
/// so that the one-primary index holds at every step.
async fn set_primaries(
    tx: &deadpool_postgres::Transaction<'_>,
    emails: &[Column],
) -> anyhow::Result<()> {
    let (Column::Text(addresses), Column::Int(users), Column::Int(primary)) =
        (&emails[0], &emails[1], &emails[3])
    else {
        bail!("unexpected user_emails columns");
    };
    let primaries: Vec<&str> = addresses
        .iter()
        .zip(primary)
        .filter(|(_, p)| p.is_some_and(|p| p != 0))
        .filter_map(|(address, _)| address.as_deref())
        .collect();
    tx.execute(
        "UPDATE user_emails SET is_primary = false \
         WHERE user_id = ANY($1) AND is_primary AND NOT (email = ANY($2))",
        &[users, &primaries],
    )
    .await?;
    tx.execute(
        "UPDATE user_emails SET is_primary = true WHERE email = ANY($1) AND NOT is_primary",
        &[&primaries],
    )
    .await?;
    Ok(())
}

/// Every copied row of `table` (its id, then the text column `column`) must be the
/// same row here: a group or invitation skipped because its id was taken would
/// otherwise hand its members to another.
async fn check_same_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    column: &str,
    rows: &[Column],
) -> anyhow::Result<()> {
    let (Column::Int(ids), Column::Text(values)) = (&rows[0], &rows[1]) else {
        bail!("unexpected {table} columns");
    };
    // Names come from this file, never from input.
    let sql = format!(
        "SELECT count(*) FROM unnest($1::BIGINT[], $2::TEXT[]) AS n (id, value) \
         JOIN {table} t ON t.id = n.id WHERE t.{column} <> n.value"
    );
    let differing: i64 = tx.query_one(&sql, &[ids, values]).await?.get(0);
    if differing > 0 {
        bail!(
            "{differing} {table} id(s) already belong to other rows in PostgreSQL; nothing was \
             copied (copy into an empty database, before any instance uses it)"
        );
    }
    Ok(())
}

/// Every copied user and address must mean the same person here as in SQLite; a
/// row that was skipped because someone else already had its id or address would
/// otherwise hand one person's sessions to another.
async fn check_same_people(
    tx: &deadpool_postgres::Transaction<'_>,
    users: &[Column],
    emails: &[Column],
) -> anyhow::Result<()> {
    let (Column::Int(ids), Column::Int(created), Column::Text(first)) =
        (&users[0], &users[1], &users[2])
    else {
        bail!("unexpected users columns");
    };
    let differing_users: i64 = tx
        .query_one(
            "SELECT count(*) FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) AS n (id, created_at, first_name) \
             JOIN users u ON u.id = n.id \
             WHERE u.created_at <> n.created_at OR u.first_name <> n.first_name",
            &[ids, created, first],
        )
        .await?
        .get(0);
    if differing_users > 0 {
        bail!(
            "{differing_users} user id(s) already belong to other people in PostgreSQL; \
             nothing was copied (copy into an empty database, before any instance uses it)"
        );
    }
    let (Column::Text(addresses), Column::Int(owners)) = (&emails[0], &emails[1]) else {
        bail!("unexpected user_emails columns");
    };
    let differing_emails: i64 = tx
        .query_one(
            "SELECT count(*) FROM unnest($1::TEXT[], $2::BIGINT[]) AS n (email, user_id) \
             JOIN user_emails e ON e.email = n.email WHERE e.user_id <> n.user_id",
            &[addresses, owners],
        )
        .await?
        .get(0);
    if differing_emails > 0 {
        bail!(
            "{differing_emails} address(es) already belong to other accounts in PostgreSQL; \
             nothing was copied"
        );
    }
    Ok(())
}
