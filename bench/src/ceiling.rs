//! The ceiling: the least a session check on this stack can cost. One poem handler
//! reads the cookie, hashes it, and looks the hash up by its index through r2d2 in
//! `spawn_blocking`, with doorcode's pragmas. No middleware, no logging, no
//! metrics: whatever doorcode does beyond this is its overhead.
//!
//! It is tuned as this stack is best run: the r2d2 pool and tokio's blocking
//! threads are both capped at `--pool` (twice the cores by default). Left at
//! tokio's default, 32 connections make tokio start about a hundred blocking
//! threads that queue on r2d2's lock, which costs a third of the throughput and
//! half again the memory.
//!
//! `--via storage` does the lookup through doorcode's own `Storage::find_session`
//! instead (its pool, its query, which also reads the person's name and address),
//! which splits doorcode's overhead into its storage part and its HTTP part.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use doorcode::domain::TokenHash;
use doorcode::storage::{Sqlite, Storage};
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, Server, get, handler};
use r2d2_sqlite::SqliteConnectionManager;
use r2d2_sqlite::rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

/// Twice the cores: enough connections to keep every core busy while some wait.
pub fn default_pool() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32 * 2)
        .unwrap_or(4)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// One indexed SELECT through r2d2 in spawn_blocking.
    Bare,
    /// doorcode's `Storage::find_session`.
    Storage,
}

enum Lookup {
    Bare(r2d2::Pool<SqliteConnectionManager>),
    Storage(Storage),
}

struct Ceiling {
    lookup: Lookup,
    cookie_name: String,
}

pub fn serve(
    db: &Path,
    listen: SocketAddr,
    cookie_name: String,
    via: Via,
    pool: u32,
) -> anyhow::Result<()> {
    if !db.exists() {
        anyhow::bail!("{} does not exist; seed it first", db.display());
    }
    let lookup = match via {
        Via::Bare => {
            let manager = SqliteConnectionManager::file(db).with_init(|conn| {
                conn.busy_timeout(Duration::from_secs(5))?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.pragma_update(None, "foreign_keys", "ON")
            });
            let pool = r2d2::Pool::builder()
                .max_size(pool)
                .connection_timeout(Duration::from_secs(5))
                .build(manager)
                .context("cannot open the database")?;
            Lookup::Bare(pool)
        }
        Via::Storage => Lookup::Storage(Storage::Sqlite(Sqlite::open(db)?)),
    };
    let state = Arc::new(Ceiling {
        lookup,
        cookie_name,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(pool as usize)
        .build()?;
    runtime.block_on(async move {
        let app = Route::new().at("/check", get(check)).data(state);
        Server::new(TcpListener::bind(listen))
            .run(app)
            .await
            .context("the ceiling server failed")
    })
}

#[handler]
async fn check(req: &Request, state: Data<&Arc<Ceiling>>) -> Response {
    let Some(token) = cookie(req, &state.cookie_name) else {
        return status(StatusCode::UNAUTHORIZED);
    };
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let found = match &state.lookup {
        Lookup::Bare(pool) => {
            let pool = pool.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<i64>> {
                let conn = pool.get()?;
                let mut stmt =
                    conn.prepare_cached("SELECT user_id FROM user_sessions WHERE token_hash = ?1")?;
                Ok(stmt.query_row([hash], |row| row.get(0)).optional()?)
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|found| found)
        }
        Lookup::Storage(storage) => {
            let now = doorcode::clock::Clock::default().now();
            storage
                .find_session(TokenHash::from_stored(hash), now)
                .await
                .map(|found| found.map(|session| session.user_id))
                .map_err(anyhow::Error::from)
        }
    };
    match found {
        Ok(Some(user_id)) => Response::builder()
            .header("x-user-id", user_id)
            .content_type("text/plain")
            .body("OK"),
        Ok(None) => status(StatusCode::UNAUTHORIZED),
        Err(_) => status(StatusCode::SERVICE_UNAVAILABLE),
    }
}

fn status(status: StatusCode) -> Response {
    Response::builder().status(status).finish()
}

fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}
