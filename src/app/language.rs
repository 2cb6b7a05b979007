//! Each request's language: chosen once from `Accept-Language` (else
//! `server.default_language`), kept in the request for the handlers
//! (`Data<&Language>`), and stated on every page that was rendered in it.

use std::sync::Arc;

use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::pages::{message_page, not_found_page};
use crate::routes::chrome;
use crate::state::AppState;
use crate::web::{choose_language, page};

/// Chooses the language, answers 404 and 405 with pages in it, and marks HTML
/// answers with `Content-Language` and `Vary: Accept-Language` (the same address
/// answers differently for different languages, so caches must keep them apart).
pub async fn negotiate_language<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    state: Arc<AppState>,
) -> poem::Result<Response> {
    let lang = choose_language(&req, &state);
    req.extensions_mut().insert(lang);
    // The JSON API and its documentation speak English whatever the header says.
    let api = crate::api::is_api_request(&req);
    let mut response = match ep.call(req).await {
        Ok(response) => response.into_response(),
        Err(e) if e.is::<NotFoundError>() => {
            page(StatusCode::NOT_FOUND, not_found_page(&chrome(&state, lang)))
        }
        Err(e) if e.is::<MethodNotAllowedError>() => page(
            StatusCode::METHOD_NOT_ALLOWED,
            message_page(
                &chrome(&state, lang),
                lang.text("status.not_allowed.title"),
                lang.text("status.not_allowed.message"),
                ("/", lang.text("link.home")),
            ),
        ),
        Err(e) => return Err(e),
    };
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !api {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.code()),
        );
        headers.append(header::VARY, HeaderValue::from_static("Accept-Language"));
    }
    Ok(response)
}
