//! A database full of signed-in people, for the benchmark in `bench/` (never used by
//! the service). It goes through the real schema and migrations (`Storage::open`)
//! and the real token hashing, so the benchmark looks sessions up exactly as
//! doorcode stores them; only the speed differs: one transaction, prepared
//! statements, and no fsync until the end.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use r2d2_sqlite::rusqlite::{Connection, params};

use super::Sqlite;
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
    drop(Sqlite::open(path)?);
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
        let mut email = tx.prepare(
            "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
                 VALUES (?1, ?2, ?3, 1)",
        )?;
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
                token.hash().as_str(),
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

/// What [`seed_bench_oidc`] hands out for each person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchGrant {
    /// An authorization code not yet redeemed (for the token endpoint).
    Code,
    /// A live access token (for userinfo).
    AccessToken,
}

/// The authorizations [`seed_bench_oidc`] makes.
#[derive(Debug, Clone, Copy)]
pub struct BenchGrants<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub what: BenchGrant,
    pub ttl_secs: i64,
}

/// For the people `1..=count` of a database made by [`seed_bench_database`]: one
/// authorization each of `client_id` for `redirect_uri` (scope `openid email
/// profile`), with its code or an access token, written to `out` one a line. Codes
/// live `ttl_secs` here, longer than the service gives them, so a benchmark can use
/// them all.
pub fn seed_bench_oidc(
    path: &Path,
    count: u64,
    now: i64,
    grants: &BenchGrants,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let BenchGrants {
        client_id,
        redirect_uri,
        what,
        ttl_secs,
    } = *grants;
    let mut conn = Connection::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = conn.transaction()?;
    {
        let mut grant = tx.prepare(
            "INSERT INTO oidc_grants (code_hash, client_id, user_id, redirect_uri, scope, \
             auth_time, created_at, code_expires_at, code_used_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, 'openid email profile', ?5, ?5, ?6, ?7, ?6)",
        )?;
        let mut token = tx.prepare(
            "INSERT INTO oidc_tokens (token_hash, grant_id, kind, created_at, expires_at) \
             VALUES (?1, ?2, 'access', ?3, ?4)",
        )?;
        for n in 1..=count {
            let user_id = i64::try_from(n).context("too many users")?;
            let code = SessionToken::generate();
            let used = (what == BenchGrant::AccessToken).then_some(now);
            grant.execute(params![
                code.hash().as_str(),
                client_id,
                user_id,
                redirect_uri,
                now,
                now + ttl_secs,
                used
            ])?;
            let secret = match what {
                BenchGrant::Code => code,
                BenchGrant::AccessToken => {
                    let access = SessionToken::generate();
                    token.execute(params![
                        access.hash().as_str(),
                        tx.last_insert_rowid(),
                        now,
                        now + ttl_secs
                    ])?;
                    access
                }
            };
            writeln!(out, "{}", secret.expose()).context("cannot write a token")?;
        }
    }
    tx.commit()?;
    out.flush().context("cannot write the tokens")?;
    Ok(())
}

/// The same as [`seed_bench_database`] in the PostgreSQL database at `url`, which
/// must hold no users yet; rows go in 10,000 at a time as column arrays.
pub async fn seed_bench_postgres(
    url: &str,
    count: u64,
    now: i64,
    session_ttl_secs: i64,
    tokens: &mut dyn Write,
) -> anyhow::Result<()> {
    let db = super::Postgres::connect(url).await?;
    let mut client = db.client().await?;
    let existing: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await?
        .get(0);
    if existing > 0 {
        anyhow::bail!("the database already has users; the benchmark seeds a fresh database");
    }
    let tx = client.transaction().await?;
    let count = i64::try_from(count).context("too many users")?;
    for start in (1..=count).step_by(10_000) {
        let ids: Vec<i64> = (start..=count.min(start + 9_999)).collect();
        let names: Vec<String> = ids.iter().map(|n| format!("User{n}")).collect();
        let emails: Vec<String> = ids
            .iter()
            .map(|n| format!("user{n}@bench.example"))
            .collect();
        let sessions: Vec<SessionToken> = ids.iter().map(|_| SessionToken::generate()).collect();
        let hashes: Vec<String> = sessions
            .iter()
            .map(|token| token.hash().as_str().to_owned())
            .collect();
        let public_ids: Vec<String> = ids
            .iter()
            .map(|_| RandomId::generate().as_str().to_owned())
            .collect();
        tx.execute(
            "INSERT INTO users (id, created_at, first_name, last_name) \
             SELECT id, $2, 'Bench', name FROM unnest($1::BIGINT[], $3::TEXT[]) AS n (id, name)",
            &[&ids, &now, &names],
        )
        .await?;
        tx.execute(
            "INSERT INTO user_emails (email, user_id, created_at, is_primary) \
             SELECT email, id, $3, true FROM unnest($1::TEXT[], $2::BIGINT[]) AS n (email, id)",
            &[&emails, &ids, &now],
        )
        .await?;
        tx.execute(
            "INSERT INTO user_sessions \
             (token_hash, user_id, created_at, public_id, expires_at, user_agent, last_seen_at) \
             SELECT hash, id, $4, public_id, $5, 'doorcode-bench', $4 \
             FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[]) AS n (hash, id, public_id)",
            &[&hashes, &ids, &public_ids, &now, &(now + session_ttl_secs)],
        )
        .await?;
        for token in &sessions {
            writeln!(tokens, "{}", token.expose()).context("cannot write a token")?;
        }
    }
    tx.batch_execute(
        "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
    )
    .await?;
    tx.commit().await?;
    // Fresh statistics, as autovacuum would gather on a live database.
    client.batch_execute("ANALYZE").await?;
    tokens.flush().context("cannot write the tokens")?;
    Ok(())
}
