//! The app: both surfaces (the pages of `routes/`, the JSON API of `api/`) under
//! one router, with what every request passes through: the hot path for session
//! checks, metrics and request ids, security headers, the panic page, language,
//! the cookie jar, and the Origin and body-size guard.

mod guard;
mod hot;
mod language;
mod observe;
pub mod server;

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::middleware::{CatchPanic, CookieJarManager, SetHeader};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler};

use crate::config::{CaptchaSettings, ServerConfig};
use crate::pages::message_page;
use crate::routes::{self, PageError, chrome};
use crate::state::AppState;
use crate::web::page;

const STYLESHEET: &str = include_str!("style.css");
/// Progressive enhancement only: every page works without it.
const SCRIPT: &str = include_str!("app.js");

pub fn app(state: Arc<AppState>) -> impl Endpoint {
    let guard_state = state.clone();
    let language_state = state.clone();
    let panic_state = state.clone();
    let metrics = state.metrics.clone();
    let headers = security_headers(&state.config.server, state.settings.captcha.as_ref());
    // A page may widen its own policy (`web::allow_form_target`); every other
    // header is the same on every response.
    let set_headers = headers
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_SECURITY_POLICY)
        .fold(SetHeader::new(), |set, (name, value)| {
            set.overriding(name.clone(), value.clone())
        });
    let csp = headers
        .iter()
        .find(|(name, _)| *name == header::CONTENT_SECURITY_POLICY)
        .map(|(_, value)| value.clone())
        .expect("the policy is always set");
    let hot_state = state.clone();
    let routes = ALTCHA_FILES.iter().fold(
        routes::add(Route::new()),
        |routes, &(name, content_type, body)| {
            routes.at(
                format!("/assets/altcha/{name}"),
                get(make_sync(move |_| asset(content_type, body))),
            )
        },
    );
    routes
        .at("/healthz", get(healthz))
        .nest("/api", crate::api::routes(state.clone()))
        .at("/assets/style.css", get(make_sync(|_| stylesheet())))
        .at("/assets/app.js", get(make_sync(|_| script())))
        // A page's refusal is a finished page: sent as it is, cookies and all.
        .catch_error(|error: PageError| async move { error.into_response() })
        .around(move |ep, req| guard::guard(ep, req, guard_state.clone()))
        .with(CookieJarManager::new())
        .data(state)
        .around(move |ep, req| language::negotiate_language(ep, req, language_state.clone()))
        .with(CatchPanic::new().with_handler(move |_| {
            tracing::error!("a request handler panicked; answered 500");
            // The request is gone by now; the page is in the default language.
            let lang = panic_state.config.server.default_language();
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                message_page(
                    &chrome(&panic_state, lang),
                    lang.text("status.failed.title"),
                    lang.text("status.failed.message"),
                    ("/login", lang.text("link.try_again")),
                ),
            )
        }))
        .with(set_headers)
        .after(move |result| {
            let csp = csp.clone();
            async move {
                let mut response = result.map(IntoResponse::into_response)?;
                if !response
                    .headers()
                    .contains_key(header::CONTENT_SECURITY_POLICY)
                {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, csp);
                }
                Ok(response)
            }
        })
        .with(observe::Observe::new(metrics))
        .around(move |ep, req| hot::ahead(ep, req, hot_state.clone(), headers.clone()))
}

/// The metrics listener's app: `GET /metrics` and nothing else.
pub fn metrics_app(state: Arc<AppState>) -> impl Endpoint {
    Route::new()
        .at("/metrics", get(observe::metrics_page))
        .data(state)
}

/// Set on every response, errors and 404s included.
fn security_headers(
    server: &ServerConfig,
    captcha: Option<&CaptchaSettings>,
) -> Arc<[(HeaderName, HeaderValue)]> {
    let csp = HeaderValue::from_str(&crate::web::content_security_policy(server, captcha, None))
        .expect("the policy is built from validated host names");
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // Not `no-referrer`: under it browsers send `Origin: null` with form POSTs,
        // which the Origin check must refuse. `strict-origin` keeps the real Origin
        // and never sends a path to another site.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin"),
        ),
    ];
    if server.base_url.is_https() {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ));
    }
    headers.into()
}

fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(STYLESHEET)
}

/// Same caching as the stylesheet: the two change together, with a new release.
fn script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(SCRIPT)
}

/// ALTCHA's widget (version 2.3.0 of the `altcha` npm package, MIT: its build for
/// a strict CSP, with the stylesheet and worker as files), served from here so the
/// self-hosted check needs no other host.
const ALTCHA_FILES: [(&str, &str, &str); 3] = [
    (
        "altcha.js",
        "text/javascript; charset=utf-8",
        include_str!("vendor/altcha/altcha.js"),
    ),
    (
        "worker.js",
        "text/javascript; charset=utf-8",
        include_str!("vendor/altcha/worker.js"),
    ),
    (
        "altcha.css",
        "text/css; charset=utf-8",
        include_str!("vendor/altcha/altcha.css"),
    ),
];

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(body)
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
