//! The ceiling: the least a session check on this stack can cost. One poem handler
//! reads the cookie, hashes it, and looks the hash up by its index through r2d2 in
//! `spawn_blocking`, with the pool and pragmas doorcode uses. No middleware, no
//! logging, no metrics: whatever doorcode does beyond this is its overhead.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, Server, get, handler};
use r2d2_sqlite::SqliteConnectionManager;
use r2d2_sqlite::rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

type Pool = r2d2::Pool<SqliteConnectionManager>;

struct Ceiling {
    pool: Pool,
    cookie_name: String,
}

pub fn serve(db: &Path, listen: SocketAddr, cookie_name: String) -> anyhow::Result<()> {
    if !db.exists() {
        anyhow::bail!("{} does not exist; seed it first", db.display());
    }
    let manager = SqliteConnectionManager::file(db).with_init(|conn| {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")
    });
    let pool = r2d2::Pool::builder()
        .max_size(8)
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .context("cannot open the database")?;
    let state = Arc::new(Ceiling { pool, cookie_name });
    let runtime = tokio::runtime::Runtime::new()?;
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
    let pool = state.pool.clone();
    let found = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<i64>> {
        let conn = pool.get()?;
        let mut stmt =
            conn.prepare_cached("SELECT user_id FROM user_sessions WHERE token_hash = ?1")?;
        Ok(stmt.query_row([hash], |row| row.get(0)).optional()?)
    })
    .await;
    match found {
        Ok(Ok(Some(user_id))) => Response::builder()
            .header("x-user-id", user_id)
            .content_type("text/plain")
            .body("OK"),
        Ok(Ok(None)) => status(StatusCode::UNAUTHORIZED),
        _ => status(StatusCode::SERVICE_UNAVAILABLE),
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
