//! HTTP plumbing shared by the routes: cookies, form bodies, client addresses,
//! responses, and the guards every request passes.

pub mod cookies;
mod guard;
pub mod hot;
mod language;
pub mod observe;

use std::net::IpAddr;

use maud::Markup;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Request, Response};
use serde::de::DeserializeOwned;

use crate::i18n::Language;
use crate::pages::{Chrome, message_page};
use crate::state::AppState;

pub use guard::guard;
pub use language::{language_of, negotiate_language};

pub const STYLESHEET: &str = include_str!("style.css");
/// Progressive enhancement only: every page works without it.
pub const SCRIPT: &str = include_str!("app.js");

pub fn chrome(state: &AppState, lang: Language) -> Chrome<'_> {
    Chrome {
        app_name: &state.config.server.app_name,
        logo_url: state.config.server.logo(),
        turnstile_site_key: state
            .turnstile
            .as_ref()
            .map(|_| state.config.turnstile.site_key.as_str()),
        lang,
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

/// A page saying the service cannot answer right now (a broken dependency).
pub fn unavailable(state: &AppState, lang: Language) -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        message_page(
            &chrome(state, lang),
            lang.text("status.unavailable.title"),
            lang.text("error.unavailable"),
            ("/login", lang.text("link.try_again")),
        ),
    )
}

/// Decodes an `application/x-www-form-urlencoded` body (already size-capped by the
/// guard); an unreadable one is a 400 page.
pub async fn read_form<T: DeserializeOwned>(
    state: &AppState,
    lang: Language,
    body: Body,
) -> Result<T, Response> {
    let bytes = body
        .into_bytes()
        .await
        .map_err(|e| poem::Error::from(e).into_response())?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| {
        page(
            StatusCode::BAD_REQUEST,
            message_page(
                &chrome(state, lang),
                lang.text("status.bad_form.title"),
                &lang.fill(
                    "status.bad_form.message",
                    &[("app_name", &state.config.server.app_name)],
                ),
                ("/login", lang.text("link.start_again")),
            ),
        )
    })
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
