//! The OpenAPI document and the Swagger UI page that shows it.

use std::sync::{Arc, OnceLock};

use maud::{DOCTYPE, html};
use poem::endpoint::make_sync;
use poem::http::{StatusCode, header};
use poem::{Endpoint, Response, Route, get};
use poem_openapi::{OpenApi, OpenApiService};
use serde_json::Value;

use super::auth::COOKIE_SCHEME;
use crate::state::AppState;
use crate::web::page;

/// The document as served: poem-openapi's, with the session cookie's real name
/// (it follows `session.cookie_name` and gains `__Host-` on https).
pub struct Document {
    pub json: String,
    value: Value,
}

impl Document {
    pub fn new<T: OpenApi>(service: &OpenApiService<T, ()>, state: &AppState) -> Self {
        let mut value: Value = serde_json::from_str(&service.spec()).unwrap_or_default();
        if let Some(scheme) =
            value.pointer_mut(&format!("/components/securitySchemes/{COOKIE_SCHEME}"))
        {
            scheme["name"] = Value::from(state.cookies.session.as_str());
        }
        let json = serde_json::to_string_pretty(&value).unwrap_or_default();
        Self { json, value }
    }

    /// The methods each documented path takes, for `Allow` on a 405.
    pub fn allowed_methods(&self) -> Arc<AllowedMethods> {
        let paths = self.value["paths"].as_object().into_iter().flatten();
        let routes = paths
            .map(|(path, operations)| {
                let methods: Vec<String> = operations
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .map(|method| method.to_ascii_uppercase())
                    .collect();
                (
                    path.split('/').map(str::to_owned).collect(),
                    methods.join(", "),
                )
            })
            .collect();
        Arc::new(AllowedMethods { routes })
    }
}

pub struct AllowedMethods {
    /// Each path's segments (`{id}` matches any one segment) and its methods.
    routes: Vec<(Vec<String>, String)>,
}

impl AllowedMethods {
    pub fn for_path(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes.iter().find_map(|(pattern, methods)| {
            let matches = pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()));
            matches.then(|| methods.clone())
        })
    }
}

/// Swagger UI as same-origin files. The site's Content-Security-Policy allows only
/// same-origin scripts and styles, so the page poem-openapi builds (everything
/// inline) would stay blank; its bundled script and stylesheet are served as files.
pub struct SwaggerUi {
    title: String,
    assets: &'static Assets,
}

/// poem-openapi's bundled Swagger UI, taken out of its page once per process.
pub struct Assets {
    script: String,
    style: String,
}

static ASSETS: OnceLock<Assets> = OnceLock::new();

const START_SCRIPT: &str = "SwaggerUIBundle({ dom_id: '#ui', url: '/api/v1/openapi.json', \
    deepLinking: true });\n";

impl SwaggerUi {
    pub fn new<T: OpenApi>(service: &OpenApiService<T, ()>, state: &AppState) -> Self {
        let assets = ASSETS.get_or_init(|| {
            let inline = service.swagger_ui_html();
            let part = |start: &str, end: &str| {
                let from = inline.find(start)? + start.len();
                let to = from + inline[from..].find(end)?;
                Some(inline[from..to].to_owned())
            };
            Assets {
                script: part("<script charset=\"UTF-8\">", "</script>").unwrap_or_default(),
                style: part("<style charset=\"UTF-8\">", "</style>").unwrap_or_default(),
            }
        });
        Self {
            title: format!("{} API", state.config.server.app_name),
            assets,
        }
    }

    pub fn routes(self) -> impl Endpoint {
        let html = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) }
                    link rel="stylesheet" href="/api/docs/swagger-ui.css";
                }
                body {
                    div id="ui" {}
                    script src="/api/docs/swagger-ui-bundle.js" {}
                    script src="/api/docs/start.js" {}
                }
            }
        };
        let Assets { script, style } = self.assets;
        Route::new()
            .at(
                "/",
                get(make_sync(move |_| page(StatusCode::OK, html.clone()))),
            )
            .at(
                "/swagger-ui-bundle.js",
                get(make_sync(|_| asset("text/javascript", script))),
            )
            .at(
                "/swagger-ui.css",
                get(make_sync(|_| asset("text/css", style))),
            )
            .at(
                "/start.js",
                get(make_sync(|_| asset("text/javascript", START_SCRIPT))),
            )
    }
}

fn asset(content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .content_type(format!("{content_type}; charset=utf-8"))
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(body)
}
