//! How an API request presents its session: `Authorization: Bearer <token>` or the
//! session cookie. Declared in the document as two security schemes, either of which
//! will do.

use std::sync::Arc;

use poem::web::cookie::CookieJar;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::error::Denied;
use crate::session::{self, ActiveSession};
use crate::state::AppState;
use crate::web::{bearer_token, cookies};

pub const BEARER_SCHEME: &str = "bearer";
/// Its cookie name is filled in from the configuration when the document is built.
pub const COOKIE_SCHEME: &str = "session_cookie";

/// The token a request presents, not yet checked. Never logged.
pub struct Presented {
    token: Option<String>,
    /// The token came from the cookie, so renewals and sign-outs update the cookie.
    via_cookie: bool,
}

impl Presented {
    fn read(req: &Request) -> Self {
        Self::bearer_or(req, || {
            req.data::<Arc<AppState>>()
                .and_then(|state| cookies::session_value(req.cookie(), state))
        })
    }

    /// As `read`, for answers made ahead of the cookie jar (`web::hot`).
    pub(crate) fn from_headers(req: &Request, state: &AppState) -> Self {
        Self::bearer_or(req, || {
            cookies::session_from_headers(req, state).map(str::to_owned)
        })
    }

    fn bearer_or(req: &Request, cookie: impl FnOnce() -> Option<String>) -> Self {
        if let Some(token) = bearer_token(req) {
            // An explicit bearer token is the only credential considered, so a bad
            // one is refused rather than quietly replaced by a cookie.
            return Self {
                token: Some(token),
                via_cookie: false,
            };
        }
        let cookie = cookie();
        Self {
            via_cookie: cookie.is_some(),
            token: cookie,
        }
    }

    pub fn via_cookie(&self) -> bool {
        self.via_cookie
    }
}

impl<'a> ApiExtractor<'a> for Presented {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            BEARER_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some("The `token` from verify."),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            COOKIE_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some("The session cookie verify sets (HttpOnly)."),
                name: Some("doorcode_session"),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![BEARER_SCHEME, COOKIE_SCHEME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(Self::read(req))
    }
}

/// The caller's live session. A renewed session's cookie is sent again, and a dead
/// one's is cleared, as the pages do.
pub async fn require(
    state: &AppState,
    jar: &CookieJar,
    presented: &Presented,
) -> Result<ActiveSession, Denied> {
    let Some(token) = presented.token.as_deref() else {
        return Err(Denied::Unauthorized);
    };
    match session::authenticate(state, token).await? {
        Some(active) => {
            if active.renewed && presented.via_cookie {
                cookies::set_session(jar, state, active.token.expose());
            }
            Ok(active)
        }
        None => {
            if presented.via_cookie {
                cookies::clear(jar, state, &state.cookies.session);
            }
            Err(Denied::Unauthorized)
        }
    }
}
