//! Checks every request passes before a handler sees it: the Origin check on
//! state-changing methods, and the body size cap.

use std::sync::Arc;
use std::time::Duration;

use poem::http::{Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};

use crate::i18n::Language;
use crate::pages::message_page;
use crate::routes::chrome;
use crate::state::AppState;
use crate::web::{language_of, page};

/// Forms here are a few fields; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// A request body must have arrived this long after its head.
pub const BODY_WITHIN: Duration = Duration::from_secs(10);

pub async fn guard<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    state: Arc<AppState>,
) -> poem::Result<Response> {
    // The JSON API's refusals carry its error shape; the pages' are pages.
    let api = crate::api::is_api_request(&req);
    let lang = language_of(&req, &state);
    if changes_state(req.method())
        && !crate::routes::BACK_CHANNEL.contains(&req.uri().path())
        && !same_origin(&req, state.config.server.base_url.origin())
    {
        tracing::warn!(path = %req.uri().path(), "refused a cross-origin request");
        if api {
            return Ok(crate::api::error_response(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "This request was sent from another site's page, so it was refused.",
            ));
        }
        return Ok(refusal(
            &state,
            lang,
            StatusCode::FORBIDDEN,
            lang.text("status.cross_origin.title"),
            lang.text("status.cross_origin.message"),
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Ok(too_large(&state, lang, api));
    }
    // Bodies without a length (chunked) are read up to the cap and no further, and
    // a body trickled in a byte at a time does not hold a connection for long.
    let body = req.take_body();
    match tokio::time::timeout(BODY_WITHIN, body.into_bytes_limit(MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => req.set_body(Body::from(bytes)),
        Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => {
            return Ok(too_large(&state, lang, api));
        }
        Ok(Err(e)) => return Ok(poem::Error::from(e).into_response()),
        Err(_) => return Ok(too_slow(&state, lang, api)),
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A request passes when its `Origin` (or, lacking one, its `Referer`) is doorcode's
/// own origin, or when it carries neither (non-browser clients; browsers always
/// send `Origin` on cross-site POSTs).
fn same_origin(req: &Request, expected: &str) -> bool {
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin
            .to_str()
            .is_ok_and(|o| o.eq_ignore_ascii_case(expected));
    }
    if let Some(referer) = headers.get(header::REFERER) {
        return referer
            .to_str()
            .ok()
            .and_then(|r| url::Url::parse(r).ok())
            .is_some_and(|url| url.origin().ascii_serialization() == expected);
    }
    true
}

fn too_slow(state: &AppState, lang: Language, api: bool) -> Response {
    tracing::info!("a request body did not arrive in time (408)");
    let response = if api {
        crate::api::error_response(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body did not arrive within 10 seconds.",
        )
    } else {
        refusal(
            state,
            lang,
            StatusCode::REQUEST_TIMEOUT,
            lang.text("status.too_slow.title"),
            lang.text("status.too_slow.message"),
        )
    };
    let mut response = response;
    response.headers_mut().insert(
        header::CONNECTION,
        poem::http::HeaderValue::from_static("close"),
    );
    response
}

fn too_large(state: &AppState, lang: Language, api: bool) -> Response {
    if api {
        return crate::api::error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "That request was too large: bodies are capped at 16 KiB.",
        );
    }
    refusal(
        state,
        lang,
        StatusCode::PAYLOAD_TOO_LARGE,
        lang.text("status.too_large.title"),
        lang.text("status.too_large.message"),
    )
}

fn refusal(
    state: &AppState,
    lang: Language,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    page(
        status,
        message_page(
            &chrome(state, lang),
            title,
            message,
            ("/login", lang.text("link.sign_in")),
        ),
    )
}
