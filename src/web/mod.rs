//! HTTP plumbing shared by both surfaces (the pages in `routes/`, the JSON API in
//! `api/`) and the app around them: cookies, credentials, client addresses, the
//! request's language, and plain responses. It knows nothing of either surface.

pub mod cookies;

use std::net::IpAddr;

use maud::Markup;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Request, Response};

use crate::domain::SessionToken;
use crate::i18n::Language;
use crate::login::Device;
use crate::session::{Presented, Surface};
use crate::state::AppState;

/// The language chosen for `req` (by the app's language middleware, which runs
/// first; ahead of it, from the request itself).
pub fn language_of(req: &Request, state: &AppState) -> Language {
    req.extensions()
        .get::<Language>()
        .copied()
        .unwrap_or_else(|| choose_language(req, state))
}

/// `Accept-Language`'s best match, else `server.default_language`.
pub fn choose_language(req: &Request, state: &AppState) -> Language {
    Language::negotiate(
        req.header(header::ACCEPT_LANGUAGE),
        state.config.server.default_language(),
    )
}

/// The credential that counts for `surface`, read straight from the headers (so
/// also ahead of the cookie jar).
pub fn presented(req: &Request, state: &AppState, surface: Surface) -> Option<Presented> {
    Presented::read(surface, bearer_token(req), || {
        cookies::session_from_headers(req, state).map(str::to_owned)
    })
}

/// The browser or app a new session is for: its `User-Agent`, and the session
/// its cookie holds now (which signing in again ends).
pub fn device<'a>(req: &'a Request, state: &AppState) -> Device<'a> {
    Device {
        user_agent: req.header(header::USER_AGENT),
        replaces: cookies::session_from_headers(req, state)
            .and_then(SessionToken::from_presented)
            .map(|token| token.hash()),
    }
}

/// An HTML page. Pages show forms or personal data, so none may be cached.
pub fn page(status: StatusCode, markup: Markup) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(markup.into_string())
}

pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

pub fn with_retry_after(mut response: Response, secs: Option<i64>) -> Response {
    if let Some(secs) = secs
        && let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The token in `Authorization: Bearer …`, if the request carries one.
pub fn bearer_token(req: &Request) -> Option<String> {
    req.header(header::AUTHORIZATION)
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

/// The client's address for rate limits and siteverify. `X-Forwarded-For` counts
/// only when the operator says a proxy sets it; its last entry is the one that
/// proxy added, the others came from the client and can be forged.
pub fn client_ip(req: &Request, trust_proxy_headers: bool) -> IpAddr {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_canonical())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if !trust_proxy_headers {
        return peer;
    }
    req.headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| item.trim().parse::<IpAddr>().ok())
        .next_back()
        .map(|ip| ip.to_canonical())
        .unwrap_or(peer)
}
