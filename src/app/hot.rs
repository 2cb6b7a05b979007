//! The session reads other services make on every request they serve:
//! `GET /auth/check` (a reverse proxy's forward auth), `GET /api/v1/session` (an
//! app's backend) and `GET /oidc/userinfo` (an OpenID Connect app). They are answered ahead of the middleware the pages need
//! (language, body cap, cookie jar, router, panic page): the answer reads two
//! headers and looks the session up, and leaves with the same security headers,
//! request id and metrics as every other response. Their log line is at debug
//! level, as the service that asked logs the request it asked about; an answer
//! other than 200 or 401 is logged as every other request is.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use poem::http::{HeaderName, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

use super::observe;
use crate::state::AppState;

const CHECK: &str = "/auth/check";
const SESSION: &str = "/api/v1/session";
const USERINFO: &str = "/oidc/userinfo";

/// Answers a `GET` of `CHECK`, `SESSION` or `USERINFO` itself, and hands every other request
/// to `ep`.
pub async fn ahead<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    state: Arc<AppState>,
    security_headers: Arc<[(HeaderName, HeaderValue)]>,
) -> poem::Result<Response> {
    let route = match (req.method(), req.uri().path()) {
        (&Method::GET, CHECK) => CHECK,
        (&Method::GET, SESSION) => SESSION,
        (&Method::GET, USERINFO) => USERINFO,
        _ => return ep.call(req).await.map(IntoResponse::into_response),
    };
    let started = Instant::now();
    let request_id = observe::request_id(&req);
    let answer = async {
        match route {
            CHECK => crate::routes::check_session(&state, &req).await,
            USERINFO => crate::routes::answer_userinfo(&state, &req).await,
            _ => crate::api::answer_current_session(&state, &req).await,
        }
    };
    let mut response = AssertUnwindSafe(answer)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(%request_id, route, "a session check panicked; answered 500");
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body("Internal Server Error")
        });
    let headers = response.headers_mut();
    for (name, value) in security_headers.iter() {
        headers.insert(name.clone(), value.clone());
    }
    observe::tag(&mut response, &request_id);
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .request_answered(route, "GET", status, elapsed.as_secs_f64());
    let latency_ms = elapsed.as_micros() as f64 / 1000.0;
    if matches!(status, 200 | 401) {
        tracing::debug!(%request_id, method = "GET", route, status, latency_ms, "request");
    } else {
        tracing::info!(%request_id, method = "GET", route, status, latency_ms, "request");
    }
    Ok(response)
}
