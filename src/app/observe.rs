//! What every request leaves behind: a request id (in a tracing span and the
//! `X-Request-Id` header), one log line, and its count and latency in the metrics;
//! plus the `GET /metrics` page that shows them.

use std::sync::Arc;
use std::time::Instant;

use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, handler};
use tracing::Instrument;

use crate::domain::RandomId;
use crate::metrics::Metrics;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_LEN: usize = 64;
/// The route label of a request that matched no route, so stray paths (scanners,
/// typos, made-up ids) cannot add series.
const NO_ROUTE: &str = "other";

/// Wraps the whole app, so refused, unknown and failed requests are seen too.
pub struct Observe {
    metrics: Arc<Metrics>,
    routes: Arc<RouteNames>,
}

impl Observe {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let routes = Arc::new(RouteNames::new(crate::api::path_templates()));
        Self { metrics, routes }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    routes: Arc<RouteNames>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id = request_id(&req);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!("request", request_id = %request_id);
        async move {
            let mut response = match self.inner.call(req).await {
                Ok(response) => response.into_response(),
                Err(error) => error.into_response(),
            };
            let elapsed = started.elapsed();
            let pattern = response.data::<PathPattern>().map(|p| &*p.0);
            let route = self.routes.label(pattern, &path);
            let status = response.status();
            self.metrics.request_answered(
                &route,
                method.as_str(),
                status.as_u16(),
                elapsed.as_secs_f64(),
            );
            // Not the path or query string, cookies or bodies: they can carry codes,
            // tokens, ids and addresses.
            tracing::info!(
                method = %method,
                route = %route,
                status = status.as_u16(),
                latency_ms = elapsed.as_micros() as f64 / 1000.0,
                "request"
            );
            tag(&mut response, &request_id);
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

/// Names a request's route by its template (`/api/v1/sessions/{id}`), never by the
/// path itself, which may carry ids and is the client's to choose.
struct RouteNames {
    /// The API's documented templates, split into segments.
    documented: Vec<Vec<String>>,
}

impl RouteNames {
    fn new(templates: Vec<String>) -> Self {
        let documented = templates
            .iter()
            .map(|t| t.split('/').map(str::to_owned).collect())
            .collect();
        Self { documented }
    }

    /// `pattern` is what poem's router matched, if anything.
    fn label(&self, pattern: Option<&str>, path: &str) -> String {
        match pattern {
            Some(pattern) if pattern.contains([':', '*', '{']) => self
                .documented_for(pattern, true)
                .unwrap_or_else(|| braced(pattern)),
            // A fixed route matches its own path only; a shorter pattern is where
            // a nested router began (`/api`) and found nothing, or answered an
            // error of its own before its operation's route was known.
            Some(pattern) if pattern.trim_end_matches('/') == path.trim_end_matches('/') => {
                pattern.to_owned()
            }
            _ => self
                .documented_for(path, false)
                .unwrap_or_else(|| NO_ROUTE.to_owned()),
        }
    }

    /// The documented template with these fixed segments, and in place of each
    /// `{parameter}` a router parameter (`from_pattern`) or any one path segment.
    fn documented_for(&self, route: &str, from_pattern: bool) -> Option<String> {
        let segments: Vec<&str> = route.split('/').collect();
        self.documented
            .iter()
            .find(|template| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| {
                        if !t.starts_with('{') {
                            t == s
                        } else if from_pattern {
                            s.starts_with([':', '*', '{'])
                        } else {
                            !s.is_empty()
                        }
                    })
            })
            .map(|template| template.join("/"))
    }
}

/// poem's `:name` as the usual `{name}`.
fn braced(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{}}}", name.split('<').next().unwrap_or(name)),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The request's id: the one it came with, if usable, or a new one.
pub fn request_id(req: &Request) -> String {
    incoming_request_id(req).unwrap_or_else(|| RandomId::generate().into_string())
}

/// Hands the request's id back, so a client can quote it.
pub fn tag(response: &mut Response, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
}

/// A proxy's or client's id is kept so logs can be joined across services, but only
/// a short one of plain characters: it goes into every log line of the request.
fn incoming_request_id(req: &Request) -> Option<String> {
    let value = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    sane.then(|| value.to_owned())
}

/// `GET /metrics`: the Prometheus text format, with the outbox read now.
#[handler]
pub async fn metrics_page(state: Data<&Arc<AppState>>) -> Response {
    let depth = match state.storage.mail_queue_depth().await {
        Ok(depth) => depth,
        Err(e) => {
            // A scrape that fails shows as `up == 0`, rather than a stale queue depth.
            tracing::error!(error = %e, "metrics: cannot read the mail queue");
            return Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .content_type("text/plain")
                .header(header::CACHE_CONTROL, "no-store")
                .body("database unavailable");
        }
    };
    Response::builder()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(state.metrics.render(depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        let cases = [
            ("abc-123_X.y", true),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
            ("", false),
            ("a b", false),
            ("a\"b", false),
            ("<script>", false),
            ("id\u{e9}", false),
        ];
        for (value, kept) in cases {
            let mut req = Request::builder().finish();
            if let Ok(value) = HeaderValue::from_str(value) {
                req.headers_mut().insert(REQUEST_ID, value);
            }
            assert_eq!(
                incoming_request_id(&req).is_some(),
                kept,
                "request id {value:?}"
            );
        }
    }

    #[test]
    fn routes_are_named_by_template_and_strays_are_other() {
        let names = RouteNames::new(vec!["/api/v1/login".into(), "/api/v1/sessions/{id}".into()]);
        let id = "0123456789abcdef0123456789abcdef";
        let sessions_path = format!("/api/v1/sessions/{id}");
        let cases: [(Option<&str>, &str, &str); 12] = [
            (Some("/login/verify"), "/login/verify", "/login/verify"),
            (Some("/"), "/", "/"),
            (Some("/api/docs/"), "/api/docs", "/api/docs/"),
            (
                Some("/api/v1/sessions/:param0"),
                &sessions_path,
                "/api/v1/sessions/{id}",
            ),
            (Some("/users/:user_id"), "/users/7", "/users/{user_id}"),
            (Some("/files/*path"), "/files/a/b", "/files/*path"),
            // A nested router that found nothing, or answered an error itself.
            (Some("/api"), "/api/nope", "other"),
            (Some("/api/v1"), "/api/v1/login", "/api/v1/login"),
            (Some("/api/v1"), &sessions_path, "/api/v1/sessions/{id}"),
            (Some("/api/v1"), "/api/v1/sessions/", "other"),
            // Refused before routing.
            (None, "/wp-login.php", "other"),
            (
                None,
                "/api/v1/sessions/a@example.com",
                "/api/v1/sessions/{id}",
            ),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                names.label(pattern, path),
                expected,
                "pattern {pattern:?}, path {path}"
            );
        }
    }
}
