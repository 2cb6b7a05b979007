//! A database full of signed-in people, for the benchmark in `bench/` (never used by
//! the service). It goes through the real schema and migrations (`Storage::open`)
//! and the real token hashing, so the benchmark looks sessions up exactly as
//! doorcode stores them; only the speed differs: one transaction, prepared
//! statements, and no fsync until the end.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use r2d2_sqlite::rusqlite::{Connection, params};

use super::Storage;
use crate::domain::{RandomId, SessionToken};

/// Creates the database at `path` (refusing one that already exists) with `count`
/// users, each with the address `user<N>@bench.example` and one live session that
/// expires `session_ttl_secs` from `now` and was last seen at `now`. Each session's
/// token, the value its cookie carries, is written to `tokens`, one a line, in
/// order. These are live credentials: keep the file with the throw-away database.
pub fn seed_bench_database(
    path: &Path,
    count: u64,
    now: i64,
    session_ttl_secs: i64,
    tokens: &mut dyn Write,
) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::bail!(
            "{} exists; the benchmark seeds a fresh database",
            path.display()
        );
    }
    // Creates the file and applies the schema and every migration, as at start-up.
    drop(Storage::open(path)?);
    let mut conn = Connection::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    // A throw-away database: losing it to a crash mid-seed costs a re-run, so skip
    // the fsyncs and keep the indexes being built in memory.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    let tx = conn.transaction()?;
    {
        let mut user = tx.prepare(
            "INSERT INTO users (id, created_at, first_name, last_name) VALUES (?1, ?2, 'Bench', ?3)",
        )?;
        let mut email =
            tx.prepare("INSERT INTO user_emails (email, user_id, created_at) VALUES (?1, ?2, ?3)")?;
        let mut session = tx.prepare(
            "INSERT INTO user_sessions \
             (token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'doorcode-bench', ?3)",
        )?;
        for n in 1..=count {
            let id = i64::try_from(n).context("too many users")?;
            user.execute(params![id, now, format!("User{n}")])?;
            email.execute(params![format!("user{n}@bench.example"), id, now])?;
            let token = SessionToken::generate();
            session.execute(params![
                token.hash(),
                id,
                now,
                RandomId::generate().as_str(),
                now + session_ttl_secs
            ])?;
            writeln!(tokens, "{}", token.expose()).context("cannot write a token")?;
        }
    }
    tx.commit()?;
    // No ANALYZE: doorcode never runs it, so query plans stay those of a live database.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    tokens.flush().context("cannot write the tokens")?;
    Ok(())
}
