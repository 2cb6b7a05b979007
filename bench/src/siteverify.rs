//! A Turnstile siteverify stand-in: every POST gets Cloudflare's success answer, as
//! the dummy secret `1x0000000000000000000000000000000AA` would.

use std::net::SocketAddr;

use anyhow::Context;
use poem::listener::TcpListener;
use poem::{Response, Route, Server, handler, post};

pub const PATH: &str = "/turnstile/v0/siteverify";

const SUCCESS: &str = r#"{"success":true,"challenge_ts":"2026-01-01T00:00:00.000Z","hostname":"localhost","error-codes":[],"action":"","cdata":""}"#;

pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        Server::new(TcpListener::bind(listen))
            .run(Route::new().at(PATH, post(siteverify)))
            .await
            .context("the siteverify stand-in failed")
    })
}

#[handler]
fn siteverify() -> Response {
    Response::builder()
        .content_type("application/json")
        .body(SUCCESS)
}
