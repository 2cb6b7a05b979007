//! How an API request presents its session: `Authorization: Bearer <token>` or the
//! session cookie. Declared in the document as two security schemes, either of which
//! will do.

use std::sync::Arc;

use poem::web::cookie::CookieJar;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::error::Denied;
use crate::session::{self, ActiveSession, Surface};
use crate::state::AppState;
use crate::web::{cookies, presented};

pub const BEARER_SCHEME: &str = "bearer";
/// Its cookie name is filled in from the configuration when the document is built.
pub const COOKIE_SCHEME: &str = "session_cookie";

/// The credential a request presents, as the session gate reads it for the API
/// (bearer first, else the cookie); not yet checked. Never logged.
pub struct Presented(Option<session::Presented>);

impl Presented {
    /// Read from the headers, so also ahead of the cookie jar (`app::hot`).
    pub(crate) fn read(req: &Request, state: &AppState) -> Self {
        Self(presented(req, state, Surface::Service))
    }

    pub fn via_cookie(&self) -> bool {
        self.0.as_ref().is_some_and(session::Presented::via_cookie)
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
        Ok(match req.data::<Arc<AppState>>() {
            Some(state) => Self::read(req, state),
            None => Self(None),
        })
    }
}

/// The caller's live session; the cookie goes as the session gate says (renewed,
/// or cleared when dead), as on the pages.
pub async fn require(
    state: &AppState,
    jar: &CookieJar,
    presented: &Presented,
) -> Result<ActiveSession, Denied> {
    let checked = state.sessions.check(presented.0.as_ref()).await?;
    cookies::apply(jar, state, &checked.cookie);
    checked.session.ok_or(Denied::Unauthorized)
}
