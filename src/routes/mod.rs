//! The routes, grouped by resource, and the app that wires them together.

mod account;
mod auth;
mod home;
mod login;

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::http::{StatusCode, header};
use poem::middleware::{CatchPanic, CookieJarManager, SetHeader};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Response, Route, get, handler, post};

use crate::config::ServerConfig;
use crate::pages::{message_page, not_found_page};
use crate::state::AppState;
use crate::web::{self, STYLESHEET, chrome, page};

pub fn app(state: Arc<AppState>) -> impl Endpoint {
    let guard_state = state.clone();
    let error_state = state.clone();
    let method_state = state.clone();
    let panic_state = state.clone();
    let metrics = state.metrics.clone();
    let headers = security_headers(&state.config.server);
    Route::new()
        .at("/", get(home::home))
        .at("/logout", post(home::logout))
        .at("/account/name", post(account::rename))
        .at("/account/sessions/end", post(account::end_session))
        .at(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .at("/login", get(login::show).post(login::start))
        .at("/login/verify", post(login::verify))
        .at("/login/resend", post(login::resend))
        .at("/auth/check", get(auth::check))
        .at("/healthz", get(healthz))
        .at("/metrics", get(web::observe::metrics_page))
        .nest("/api", crate::api::routes(state.clone()))
        .at("/assets/style.css", get(make_sync(|_| stylesheet())))
        .around(move |ep, req| web::guard(ep, req, guard_state.clone()))
        .with(CookieJarManager::new())
        .data(state)
        .catch_error(move |_: NotFoundError| {
            let state = error_state.clone();
            async move { page(StatusCode::NOT_FOUND, not_found_page(&chrome(&state))) }
        })
        .catch_error(move |_: MethodNotAllowedError| {
            let state = method_state.clone();
            async move {
                page(
                    StatusCode::METHOD_NOT_ALLOWED,
                    message_page(
                        &chrome(&state),
                        "Not allowed",
                        "This address does not accept that kind of request.",
                        ("/", "Go to the start"),
                    ),
                )
            }
        })
        .with(CatchPanic::new().with_handler(move |_| {
            tracing::error!("a request handler panicked; answered 500");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                message_page(
                    &chrome(&panic_state),
                    "Something went wrong",
                    "Please try again.",
                    ("/login", "Try again"),
                ),
            )
        }))
        .with(headers)
        .with(web::observe::Observe::new(metrics))
}

/// Only what the pages and Cloudflare's Turnstile widget need (Cloudflare documents
/// `script-src` and `frame-src https://challenges.cloudflare.com`); no framing. Forms
/// post to the site itself, and the redirect after signing in may go to a host in
/// `server.allowed_redirect_hosts` (browsers apply `form-action` to that redirect).
fn content_security_policy(server: &ServerConfig) -> String {
    let mut form_action = String::from("'self'");
    for host in &server.allowed_redirect_hosts {
        form_action.push_str(&format!(" https://{host}"));
        if !server.base_url.is_https() {
            form_action.push_str(&format!(" http://{host}"));
        }
    }
    format!(
        "default-src 'none'; script-src 'self' https://challenges.cloudflare.com; \
         frame-src https://challenges.cloudflare.com; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Set on every response, errors and 404s included.
fn security_headers(server: &ServerConfig) -> SetHeader {
    let headers = SetHeader::new()
        .overriding(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(server),
        )
        .overriding(header::X_FRAME_OPTIONS, "DENY")
        .overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        // Not `no-referrer`: under it browsers send `Origin: null` with form POSTs,
        // which the Origin check must refuse. `strict-origin` keeps the real Origin
        // and never sends a path to another site.
        .overriding(header::REFERRER_POLICY, "strict-origin");
    if server.base_url.is_https() {
        headers.overriding(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        )
    } else {
        headers
    }
}

fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(STYLESHEET)
}

/// 200 `ok` when the database answers, 503 otherwise.
#[handler]
async fn healthz(state: Data<&Arc<AppState>>) -> Response {
    match state.storage.ping().await {
        Ok(()) => Response::builder().content_type("text/plain").body("ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed: database unavailable");
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
