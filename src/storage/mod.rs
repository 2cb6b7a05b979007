//! All SQL lives here, behind named functions. Handlers and flows never see a
//! connection: every call runs on tokio's blocking pool, so SQLite never blocks
//! the async executor.

mod admin;
mod login;
mod maintenance;
mod outbox;
mod rate;
mod sessions;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use r2d2_sqlite::rusqlite::{self, Connection, TransactionBehavior};

pub use admin::{DatabaseOverview, DeletedUser, SessionOverview, UserOverview, UserRef};
pub use login::{
    ChallengeInfo, Closed, CompleteOutcome, NewChallenge, ResendOutcome, StartOutcome,
    VerifyOutcome, VerifyRequest,
};
pub use maintenance::Pruned;
pub use outbox::{NewMail, QueuedMail};
pub use rate::{Limits, Refusal};
pub use sessions::{NewSession, SessionRecord, SessionSummary};

/// Schema steps; index + 1 is the `user_version` a step leaves behind.
const MIGRATIONS: &[&str] = &[
    include_str!("../../schema.sql"),
    include_str!("../../migrations/0002_session_activity.sql"),
];

/// The database could not do what was asked: unreachable, read-only, full, corrupt.
/// The detail is for the log; people see a 503.
#[derive(Debug, thiserror::Error)]
#[error("database: {0:#}")]
pub struct StorageError(#[from] anyhow::Error);

#[derive(Clone)]
pub struct Storage {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

impl Storage {
    /// Opens (creating if needed) the SQLite file and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder {}", parent.display()))?;
        }
        if path.exists() {
            check_existing(path)?;
        }
        let manager = SqliteConnectionManager::file(path).with_init(|conn| {
            // Per-connection settings only, none of which takes a lock. busy_timeout
            // makes a connection wait for a writer (another pool connection, or
            // another doorcode process such as `doorcode check`) instead of failing
            // with "database is locked".
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")
        });
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(5))
            .build(manager)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        let mut conn = pool.get()?;
        use_wal(&conn).with_context(|| format!("cannot switch {} to WAL", path.display()))?;
        migrate(&mut conn).with_context(|| format!("cannot migrate {}", path.display()))?;
        Ok(Self { pool })
    }

    /// Runs `work` with a pooled connection on the blocking pool.
    async fn run<T, F>(&self, what: &'static str, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<T> {
            let mut conn = pool.get().context("no database connection")?;
            Ok(work(&mut conn)?)
        })
        .await
        .context("database task failed")
        .and_then(|inner| inner);
        result.with_context(|| what).map_err(StorageError)
    }

    /// Runs `work` inside one write transaction, taken up front (`BEGIN IMMEDIATE`) so
    /// that check-then-write sequences cannot interleave with another writer.
    async fn write<T, F>(&self, what: &'static str, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(what, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Answers when the database can be read.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run("health check", |conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        })
        .await
    }
}

/// Looks at an existing file read-only before anything writes to it, so a file that
/// is not doorcode's database is refused and left exactly as it was.
fn check_existing(path: &Path) -> anyhow::Result<()> {
    use rusqlite::OpenFlags;
    let untouched = || format!("{} was left untouched", path.display());
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .with_context(|| {
            format!(
                "{} is not a SQLite database or is corrupted; {}",
                path.display(),
                untouched()
            )
        })?;
    let version: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == 0 && !tables.is_empty() {
        anyhow::bail!(
            "{} holds another application's tables ({}), not doorcode's; {}",
            path.display(),
            tables.join(", "),
            untouched()
        );
    }
    Ok(())
}

/// WAL lets readers run beside the one writer. The mode is stored in the file, so it
/// is set once, and only when it is not set yet: switching takes a lock that would
/// make a second process opening a live database fail.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "the database is at schema version {version}, newer than this doorcode knows ({}); \
             run a newer doorcode",
            MIGRATIONS.len()
        );
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/doorcode.db");
        drop(Storage::open(&path).unwrap());
        let storage = Storage::open(&path).unwrap();
        let conn = storage.pool.get().unwrap();
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn a_file_that_is_not_a_doorcode_database_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&garbage, &bytes).unwrap();
        let err = Storage::open(&garbage)
            .err()
            .expect("garbage must be refused");
        assert!(
            format!("{err:#}").contains("not a SQLite database"),
            "{err:#}"
        );
        assert_eq!(
            std::fs::read(&garbage).unwrap(),
            bytes,
            "the file was changed"
        );

        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
            .unwrap();
        let before = std::fs::read(&foreign).unwrap();
        let err = Storage::open(&foreign)
            .err()
            .expect("a foreign database must be refused");
        assert!(format!("{err:#}").contains("invoices"), "{err:#}");
        assert_eq!(
            std::fs::read(&foreign).unwrap(),
            before,
            "the file was changed"
        );
        assert!(!dir.path().join("foreign.db-wal").exists());
    }

    #[test]
    fn a_version_1_database_migrates_and_keeps_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, created_at, first_name) VALUES (1, 100, 'Ada');
                 INSERT INTO user_sessions (token_hash, user_id, created_at, public_id, expires_at)
                 VALUES ('h', 1, 100, 'p', 9999999999);",
            )
            .unwrap();
        }
        let storage = Storage::open(&path).unwrap();
        let conn = storage.pool.get().unwrap();
        let (seen, agent): (i64, Option<String>) = conn
            .query_row(
                "SELECT last_seen_at, user_agent FROM user_sessions WHERE token_hash = 'h'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((seen, agent), (100, None));
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Storage::open(&path)
            .err()
            .expect("newer schema must be refused");
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }
}
