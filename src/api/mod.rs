//! The JSON API under `/api`: the same sign-in flow and sessions as the browser
//! pages, for SPAs, mobile apps and backends. Described by an OpenAPI 3 document at
//! `/api/v1/openapi.json`, browsable at `/api/docs`.

mod auth;
mod docs;
mod emails;
mod error;
mod login;
mod passkeys;
mod schema;
mod sessions;
mod text;

pub(crate) use sessions::answer_current as answer_current_session;

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::middleware::CookieJarManager;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get};
use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

pub(crate) use error::error_response;

/// Where the versioned API lives; the document's paths carry this prefix.
const PREFIX: &str = "/api/v1";

const DESCRIPTION: &str = "\
Passwordless sign-in with a code sent by email, and the sessions it creates.

**Signing in**: `POST /api/v1/login` mails a 6-digit code and answers a `challenge_id`; \
`POST /api/v1/login/verify` with that id and the code answers a session `token` (shown \
only this once) and also sets the session cookie. A new address also sends \
`first_name` (and optionally `last_name`); without them the answer is 400 \
`name_required`, and the same request sent again with the names finishes the sign-up.

**Authenticating**: send `Authorization: Bearer <token>`, or the session cookie that \
verify sets. When an `Authorization: Bearer` header is present, it alone counts.

**Errors** are JSON `{\"error\": \"<code>\", \"message\": \"…\"}`: `error` is a stable \
machine-readable code, `message` a sentence to show a person. Limits answer 429 with \
`Retry-After` (seconds). Request bodies are capped at 16 KiB (413), and a request a \
browser sends from another site's page is refused (403).

**Times** are RFC 3339 strings in UTC.";

#[derive(Tags)]
enum ApiTags {
    /// Signing in and signing up with an emailed code
    Login,
    /// The caller's sessions
    Sessions,
    /// Passkeys: adding them, and signing in with one
    Passkeys,
    /// The caller's email addresses: adding, choosing the primary one, removing
    Emails,
}

/// The endpoint to nest at `/api`.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let service = OpenApiService::new(
        (
            login::LoginApi,
            sessions::SessionApi,
            passkeys::PasskeyApi,
            emails::EmailApi,
        ),
        format!("{} API", state.config.server.app_name),
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .url_prefix(PREFIX);
    let document = docs::Document::new(&service, &state);
    let ui = docs::SwaggerUi::new(&service, &state);
    let allow = document.allowed_methods();
    let json = document.json;
    Route::new()
        .at(
            "/v1/openapi.json",
            get(poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(json.clone())
            })),
        )
        .nest("/v1", service)
        .nest("/docs", ui.routes())
        .with(CookieJarManager::new())
        .data(state)
        .around(move |ep, req| json_errors(ep, req, allow.clone()))
}

/// Answers carry tokens and personal data; only the documentation's script and
/// stylesheet say otherwise.
fn no_store(response: &mut Response) {
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        let no_store = HeaderValue::from_static("no-store");
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, no_store);
    }
}

/// Whether a request is for the API, whose refusals use the API's error shape.
pub(crate) fn is_api_request(req: &Request) -> bool {
    let path = req.uri().path();
    path == "/api" || path.starts_with("/api/")
}

/// Finishes every API answer. Failures that poem answers itself in plain text (an
/// unknown path, a method the path does not take, a body that is not the JSON the
/// operation takes) get the API's error shape here, so clients see one shape for
/// every failure; and answers are marked not to be cached.
async fn json_errors<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    allow: Arc<docs::AllowedMethods>,
) -> poem::Result<Response> {
    let path = req.original_uri().path().to_owned();
    let mut response = match ep.call(req).await {
        Ok(response) => response.into_response(),
        Err(error) => error.into_response(),
    };
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        no_store(&mut response);
        return Ok(response);
    }
    let detail = response.into_body().into_string().await.unwrap_or_default();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "There is nothing at this address.".into()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This address does not take that method.".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Send the request body as JSON, with Content-Type: application/json.".into(),
        ),
        status if status.is_client_error() => (
            "invalid_request",
            format!("The request could not be read: {detail}"),
        ),
        _ => (
            "unavailable",
            "The service cannot answer right now. Please try again in a minute.".into(),
        ),
    };
    let mut response = error_response(status, code, &message);
    if status == StatusCode::METHOD_NOT_ALLOWED
        && let Some(methods) = allow.for_path(&path)
        && let Ok(value) = HeaderValue::from_str(&methods)
    {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Ok(response)
}

fn is_json(response: &Response) -> bool {
    response
        .content_type()
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// Every documented path with its prefix, such as `/api/v1/sessions/{id}`. The
/// router knows path parameters only by position (`:param0`), so request metrics
/// and logs take their route names from here.
pub(crate) fn path_templates() -> Vec<String> {
    <(
        login::LoginApi,
        sessions::SessionApi,
        passkeys::PasskeyApi,
        emails::EmailApi,
    ) as poem_openapi::OpenApi>::meta()
    .into_iter()
    .flat_map(|api| api.paths)
    .map(|path| format!("{PREFIX}{}", path.path))
    .collect()
}
