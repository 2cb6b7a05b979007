//! `/auth/check`: the forward-auth answer for reverse proxies (nginx `auth_request`,
//! Caddy `forward_auth`, Traefik `ForwardAuth`).
//!
//! A `GET` is answered ahead of the app's middleware (`web::hot`).

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem::{Request, Response, handler};

use crate::session;
use crate::state::AppState;
use crate::web::{bearer_token, cookies};

/// The same answer, for what `web::hot` leaves to the router (`HEAD`).
#[handler]
pub async fn check(state: Data<&Arc<AppState>>, req: &Request) -> Response {
    respond(&state, req).await
}

/// 200 with the person's id, email and name in headers for a live session (cookie
/// or bearer token), 401 otherwise. When the session's expiry moves forward and
/// it came as a cookie, the renewed cookie comes along, for proxies that pass
/// `Set-Cookie` on.
pub async fn respond(state: &AppState, req: &Request) -> Response {
    let (presented, via_cookie) = match bearer_token(req) {
        Some(token) => (token, false),
        None => match cookies::session_from_headers(req, state) {
            Some(token) => (token.to_owned(), true),
            None => return answer(StatusCode::UNAUTHORIZED),
        },
    };
    match session::authenticate(state, &presented).await {
        Ok(Some(active)) => {
            let record = &active.record;
            let name = match &record.last_name {
                Some(last) => format!("{} {last}", record.first_name),
                None => record.first_name.clone(),
            };
            let mut response = answer(StatusCode::OK);
            let headers = response.headers_mut();
            headers.insert("x-doorcode-user-id", HeaderValue::from(record.user_id));
            // Names and addresses were checked for control characters when stored, so
            // they are valid header bytes (UTF-8 travels as opaque bytes).
            for (key, value) in [
                ("x-doorcode-email", record.email.as_str()),
                ("x-doorcode-name", name.as_str()),
            ] {
                if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                    headers.insert(key, value);
                }
            }
            if active.renewed && via_cookie {
                let jar = CookieJar::default();
                cookies::set_session(&jar, state, active.token.expose());
                cookies::send(&jar, &mut response);
            }
            response
        }
        Ok(None) => answer(StatusCode::UNAUTHORIZED),
        Err(e) => {
            tracing::error!(error = %e, "cannot check a session: database unavailable (503)");
            answer(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

fn answer(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(status.canonical_reason().unwrap_or_default())
}
