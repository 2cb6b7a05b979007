//! `/auth/check`: the forward-auth answer for reverse proxies (nginx `auth_request`,
//! Caddy `forward_auth`, Traefik `ForwardAuth`).
//!
//! A `GET` is answered ahead of the app's middleware (`web::hot`).

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem::{Request, Response, handler};

use crate::domain::GroupName;
use crate::session::Surface;
use crate::state::AppState;
use crate::storage::SessionRecord;
use crate::web::{cookies, presented};

/// The same answer, for what `web::hot` leaves to the router (`HEAD`).
#[handler]
pub async fn check(state: Data<&Arc<AppState>>, req: &Request) -> Response {
    respond(&state, req).await
}

/// 200 with the person's id, email, name and groups in headers for a live session
/// (cookie or bearer token), 401 otherwise; 403 when `?group=` names groups
/// (repeatable: any of them will do) and the person is in none. The cookie goes as
/// the session gate says (renewed, or cleared when dead), for proxies that pass
/// `Set-Cookie` on.
pub async fn respond(state: &AppState, req: &Request) -> Response {
    let presented = presented(req, state, Surface::Service);
    let checked = match state.sessions.check(presented.as_ref()).await {
        Ok(checked) => checked,
        Err(e) => {
            tracing::error!(error = %e, "cannot check a session: database unavailable (503)");
            return answer(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let mut response = match &checked.session {
        Some(active) if in_any_wanted_group(req, &active.record) => signed_in(&active.record),
        Some(_) => answer(StatusCode::FORBIDDEN),
        None => answer(StatusCode::UNAUTHORIZED),
    };
    // Answered ahead of the cookie jar: this one starts empty and goes out here.
    let jar = CookieJar::default();
    cookies::apply(&jar, state, &checked.cookie);
    cookies::send(&jar, &mut response);
    response
}

/// Whether the person is in one of the groups `?group=` names; true when it names
/// none. A name that is not a group name (`Admins`) matches nobody, and is logged
/// so the operator sees the mistake in their proxy's configuration.
fn in_any_wanted_group(req: &Request, record: &SessionRecord) -> bool {
    let Some(query) = req.uri().query() else {
        return true;
    };
    let mut asked = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "group" {
            continue;
        }
        asked = true;
        match GroupName::parse(&value) {
            Ok(wanted) => {
                if record.groups.contains(&wanted) {
                    return true;
                }
            }
            Err(e) => tracing::warn!(
                group = %value.escape_debug(),
                "/auth/check?group= names no possible group ({e}); nobody is in it"
            ),
        }
    }
    !asked
}

/// 200 with who is signed in, in the headers proxies pass on to the app.
fn signed_in(record: &SessionRecord) -> Response {
    let name = match &record.last_name {
        Some(last) => format!("{} {last}", record.first_name),
        None => record.first_name.clone(),
    };
    let groups = record
        .groups
        .iter()
        .map(GroupName::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let mut response = answer(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert("x-doorcode-user-id", HeaderValue::from(record.user_id));
    // Names and addresses were checked for control characters when stored, so
    // they are valid header bytes (UTF-8 travels as opaque bytes).
    for (key, value) in [
        ("x-doorcode-email", record.email.as_str()),
        ("x-doorcode-name", name.as_str()),
        ("x-doorcode-groups", groups.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            headers.insert(key, value);
        }
    }
    response
}

fn answer(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(status.canonical_reason().unwrap_or_default())
}
