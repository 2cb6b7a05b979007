//! The PostgreSQL backend, for several doorcode instances sharing one database. Same
//! tables as SQLite; what SQLite gets from its single writer, this gets from row
//! locks and advisory locks taken inside each transaction, so attempt counts and
//! limits hold across instances.

mod access;
mod admin;
mod copy;
mod emails;
mod oidc;
mod outbox;
mod passkeys;
mod sessions;
mod signin;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use tokio_postgres::NoTls;

pub use copy::CopyReport;

use super::StorageError;
use super::records::{KEEP_CAPTCHA_SECS, KEEP_INVITATIONS_SECS, KEEP_MAIL_SECS, Pruned};
use crate::rules::WINDOW_SECS;

/// Schema steps; index + 1 is the version a step leaves in `schema_version`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_schema.sql"),
    include_str!("../../../migrations/postgres/0002_email_lookup.sql"),
    include_str!("../../../migrations/postgres/0003_mail_kinds.sql"),
    include_str!("../../../migrations/postgres/0004_access.sql"),
    include_str!("../../../migrations/postgres/0005_oidc.sql"),
    include_str!("../../../migrations/postgres/0006_passkeys.sql"),
    include_str!("../../../migrations/postgres/0007_emails.sql"),
    include_str!("../../../migrations/postgres/0008_captcha.sql"),
];

/// Held while migrating, so that instances starting together migrate once.
const MIGRATION_LOCK: i64 = 0x646f_6f72_636f_6465; // "doorcode"

#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
}

impl Postgres {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .context("database.url is not a valid postgres:// URL")?;
        let place = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(Duration::from_secs(5));
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: timeout,
                create: timeout,
                recycle: timeout,
            })
            .build()
            .context("cannot set up the PostgreSQL pool")?;
        let mut client = pool
            .get()
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {place}"))?;
        migrate(&mut client)
            .await
            .with_context(|| format!("cannot migrate the PostgreSQL database at {place}"))?;
        drop(client);
        Ok(Self { pool })
    }

    /// Runs `work`, naming what failed in the error.
    async fn guard<T>(
        &self,
        what: &'static str,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> Result<T, StorageError> {
        work.await.context(what).map_err(StorageError)
    }

    pub(super) async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool.get().await.context("no database connection")
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        self.guard("health check", async {
            self.client().await?.query_one("SELECT 1", &[]).await?;
            Ok(())
        })
        .await
    }

    /// Safe on every instance at once: each DELETE only removes rows that are dead.
    pub async fn prune(&self, now: i64) -> Result<Pruned, StorageError> {
        self.guard("prune expired rows", async {
            let client = self.client().await?;
            let deleted = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            let sessions = client
                .execute("DELETE FROM user_sessions WHERE expires_at <= $1", &[&now])
                .await?;
            client
                .execute("DELETE FROM login_codes WHERE expires_at <= $1", &[&now])
                .await?;
            let challenges = client
                .execute(
                    "DELETE FROM login_challenges WHERE expires_at <= $1",
                    &[&now],
                )
                .await?;
            let ceremonies = client
                .execute(
                    "DELETE FROM passkey_ceremonies WHERE expires_at <= $1",
                    &[&now],
                )
                .await?;
            let rate_events = client
                .execute(
                    "DELETE FROM rate_events WHERE at <= $1",
                    &[&(now - WINDOW_SECS)],
                )
                .await?;
            let mail = client
                .execute(
                    "DELETE FROM outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
                     AND created_at <= $1",
                    &[&(now - KEEP_MAIL_SECS)],
                )
                .await?;
            // Their groups go with them (`ON DELETE CASCADE`).
            let invitations = client
                .execute(
                    "DELETE FROM invitations WHERE least(used_at, revoked_at, expires_at) <= $1",
                    &[&(now - KEEP_INVITATIONS_SECS)],
                )
                .await?;
            client
                .execute("DELETE FROM oidc_tokens WHERE expires_at <= $1", &[&now])
                .await?;
            client
                .execute(
                    "DELETE FROM captcha_solutions WHERE expires_at <= $1",
                    &[&(now - KEEP_CAPTCHA_SECS)],
                )
                .await?;
            // Their tokens go with them (`ON DELETE CASCADE`).
            let grants = client
                .execute("DELETE FROM oidc_grants WHERE expires_at <= $1", &[&now])
                .await?;
            Ok(Pruned {
                grants: deleted(grants),
                sessions: deleted(sessions),
                challenges: deleted(challenges + ceremonies),
                rate_events: deleted(rate_events),
                mail: deleted(mail),
                invitations: deleted(invitations),
            })
        })
        .await
    }

    /// Records a CAPTCHA solution as used; `false` when it already was (here or
    /// on another instance).
    pub async fn spend_captcha(
        &self,
        challenge_hash: String,
        expires_at: i64,
    ) -> Result<bool, StorageError> {
        self.guard("record a CAPTCHA solution", async {
            let added = self
                .client()
                .await?
                .execute(
                    "INSERT INTO captcha_solutions (challenge_hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (challenge_hash) DO NOTHING",
                    &[&challenge_hash, &expires_at],
                )
                .await?;
            Ok(added == 1)
        })
        .await
    }
}

/// Where the database is, for messages: host, port and database name, never the
/// password.
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or_default())
}

async fn migrate(client: &mut deadpool_postgres::Object) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "SET LOCAL client_min_messages = warning; \
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL); \
         INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
    )
    .await?;
    let version: i64 = tx
        .query_one("SELECT version FROM schema_version", &[])
        .await?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if version > known {
        anyhow::bail!(
            "the database is at schema version {version}, newer than this doorcode knows \
             ({known}); run a newer doorcode"
        );
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(step).await?;
        tx.execute(
            "UPDATE schema_version SET version = $1",
            &[&(index as i64 + 1)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
