//! The embedded backend: one SQLite file, its SQL in this folder's files. SQLite
//! work runs on tokio's blocking pool, so it never blocks the executor.

mod access;
mod admin;
mod emails;
mod maintenance;
mod oidc;
mod outbox;
mod passkeys;
mod sessions;
mod signin;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use r2d2_sqlite::rusqlite::{self, Connection, TransactionBehavior};
use tokio::sync::Semaphore;

use super::StorageError;

/// Schema steps; index + 1 is the `user_version` a step leaves behind.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../schema.sql"),
    include_str!("../../../migrations/0002_session_activity.sql"),
    include_str!("../../../migrations/0003_mail_language.sql"),
    include_str!("../../../migrations/0004_email_lookup.sql"),
    include_str!("../../../migrations/0005_mail_kinds.sql"),
    include_str!("../../../migrations/0006_access.sql"),
    include_str!("../../../migrations/0007_oidc.sql"),
    include_str!("../../../migrations/0008_passkeys.sql"),
    include_str!("../../../migrations/0009_emails.sql"),
    include_str!("../../../migrations/0010_captcha.sql"),
];

/// The embedded backend: one SQLite file. Reads share a small pool; writes go
/// through a pool of one connection, so writers queue here, woken in turn, instead
/// of sleeping in SQLite's busy handler (whose back-off made slow tails). WAL lets
/// the readers go on beside the writer.
#[derive(Clone)]
pub struct Sqlite {
    readers: Gated,
    writer: Gated,
    /// For the session check, the one read on every request of every app.
    inline: Arc<InlineReaders>,
}

/// A pool and as many permits as it has connections. A call waits for a permit
/// before it takes a blocking thread, so a queue of writers never holds the
/// threads that readers need, and no thread sits blocked on the pool.
#[derive(Clone)]
struct Gated {
    pool: Pool,
    permits: Arc<Semaphore>,
}

impl Gated {
    fn new(pool: Pool, size: u32) -> Self {
        Self {
            pool,
            permits: Arc::new(Semaphore::new(size as usize)),
        }
    }
}

type Pool = r2d2::Pool<SqliteConnectionManager>;

/// Connections for a read of a few microseconds (one indexed lookup), made right on
/// the calling thread. Handing such a read to a blocking thread and back costs more
/// than the read. There is one connection per core, so a task that finds none
/// free (never, while each core runs one task at a time) takes the blocking path;
/// so does a read that meets a lock, as these connections never wait for one.
struct InlineReaders {
    slots: Vec<std::sync::Mutex<Connection>>,
}

impl InlineReaders {
    fn open(manager: &SqliteConnectionManager) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = (0..cores)
            .map(|_| {
                let conn = r2d2::ManageConnection::connect(manager)?;
                conn.busy_timeout(Duration::ZERO)?;
                // Session checks read all over the sessions and users: 2 MB each.
                conn.pragma_update(None, "cache_size", -2048)?;
                Ok(std::sync::Mutex::new(conn))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { slots })
    }

    /// `work`'s answer, or None when no connection was free or the database was
    /// locked: then the caller goes the blocking way.
    fn try_run<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let mut conn = self.slots.iter().find_map(|slot| slot.try_lock().ok())?;
        work(&mut conn).ok()
    }
}

/// Readers for the pages' and the mail worker's reads; session checks have their
/// own connections (`InlineReaders`).
const READERS: u32 = 2;

impl Sqlite {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)
                .with_context(|| format!("cannot create the folder {}", parent.display()))?;
        }
        if path.exists() {
            check_existing(path)?;
        } else {
            create_private_file(path)
                .with_context(|| format!("cannot create the database {}", path.display()))?;
        }
        let manager = || {
            SqliteConnectionManager::file(path).with_init(|conn| {
                // Per-connection settings only, none of which takes a lock.
                // busy_timeout makes a connection wait for another process's writer
                // (such as `doorcode users delete`) instead of failing at once.
                conn.busy_timeout(Duration::from_secs(5))?;
                // Room for every statement doorcode runs, so none is parsed twice.
                conn.set_prepared_statement_cache_capacity(64);
                // 1 MB of pages: the writer's and the readers' hot pages are few
                // (the newest rows of a handful of tables).
                conn.pragma_update(None, "cache_size", -1024)?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.pragma_update(None, "foreign_keys", "ON")
            })
        };
        let pool = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(5))
                .build(manager())
                .with_context(|| format!("cannot open the database {}", path.display()))
        };
        let writer = pool(1)?;
        {
            let mut conn = writer.get()?;
            use_wal(&conn).with_context(|| format!("cannot switch {} to WAL", path.display()))?;
            migrate(&mut conn).with_context(|| format!("cannot migrate {}", path.display()))?;
        }
        Ok(Self {
            readers: Gated::new(pool(READERS)?, READERS),
            writer: Gated::new(writer, 1),
            inline: Arc::new(InlineReaders::open(&manager())?),
        })
    }

    /// Runs `work` with a connection of `gated` on the blocking pool.
    async fn with<T, E, F>(gated: &Gated, what: &'static str, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        E: Into<anyhow::Error>,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let _permit = gated
            .permits
            .acquire()
            .await
            .map_err(|e| StorageError(e.into()))?;
        let pool = gated.pool.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<T> {
            let mut conn = pool.get().context("no database connection")?;
            work(&mut conn).map_err(Into::into)
        })
        .await
        .context("database task failed")
        .and_then(|inner| inner);
        result.with_context(|| what).map_err(StorageError)
    }

    /// Runs `work`, which only reads, with a reader connection.
    async fn run<T, F>(&self, what: &'static str, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        Self::with(&self.readers, what, work).await
    }

    /// Runs `work` inside one write transaction on the writer connection, taken up
    /// front (`BEGIN IMMEDIATE`) so that check-then-write sequences cannot
    /// interleave with another process's writer.
    async fn write<T, F>(&self, what: &'static str, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T> + Send + 'static,
    {
        self.write_any(what, move |tx| work(tx).map_err(anyhow::Error::from))
            .await
    }

    /// As `write`, for work that fails with more than SQLite's errors.
    async fn write_any<T, F>(&self, what: &'static str, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction) -> anyhow::Result<T> + Send + 'static,
    {
        Self::with(&self.writer, what, move |conn| -> anyhow::Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run("health check", |conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        })
        .await
    }
}

/// The folders of a new database are the owner's alone (0700, whatever the umask):
/// they hold people's addresses and, beside a SQLite file, the server secret.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// An empty file is an empty SQLite database; made here 0600 so SQLite, which
/// gives its `-wal` and `-shm` files the database file's mode, never makes any of
/// them readable by others.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
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
        drop(Sqlite::open(&path).unwrap());
        let storage = Sqlite::open(&path).unwrap();
        let conn = storage.readers.pool.get().unwrap();
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
        let err = Sqlite::open(&garbage)
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
        let err = Sqlite::open(&foreign)
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
        let storage = Sqlite::open(&path).unwrap();
        let conn = storage.readers.pool.get().unwrap();
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
    fn a_version_8_database_makes_each_persons_oldest_address_primary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for step in &MIGRATIONS[..8] {
                tx.execute_batch(step).unwrap();
            }
            tx.pragma_update(None, "user_version", 8).unwrap();
            tx.execute_batch(
                "INSERT INTO users (id, created_at, first_name) VALUES (1, 100, 'Ada'), (2, 100, 'Grace');
                 INSERT INTO user_emails (email, user_id, created_at) VALUES
                   ('z@old.example', 1, 100), ('a@new.example', 1, 200), ('grace@example.com', 2, 100);",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let storage = Sqlite::open(&path).unwrap();
        let conn = storage.readers.pool.get().unwrap();
        let primaries: Vec<String> = conn
            .prepare("SELECT email FROM user_emails WHERE is_primary = 1 ORDER BY user_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(primaries, ["z@old.example", "grace@example.com"]);
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Sqlite::open(&path)
            .err()
            .expect("newer schema must be refused");
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }
}
