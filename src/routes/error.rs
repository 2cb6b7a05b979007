//! What every page handler shares: the page chrome, reading a form, and
//! [`PageError`], the answer a handler gives instead of its page.

use std::fmt;

use poem::http::StatusCode;
use poem::{Body, IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::config::CaptchaSettings;
use crate::i18n::Language;
use crate::pages::{Chrome, Widget, message_page};
use crate::state::AppState;
use crate::web::page;

pub fn chrome(state: &AppState, lang: Language) -> Chrome<'_> {
    Chrome {
        app_name: &state.config.server.app_name,
        logo_url: state.config.server.logo(),
        captcha: state
            .settings
            .captcha
            .as_ref()
            .map(|captcha| match captcha {
                CaptchaSettings::Turnstile(keys) => Widget::Turnstile(&keys.site_key),
                CaptchaSettings::Hcaptcha(keys) => Widget::Hcaptcha(&keys.site_key),
                CaptchaSettings::Altcha(_) => Widget::Altcha,
            }),
        lang,
    }
}

/// The answer a page handler gives instead of its page: a redirect, a refusal, or
/// the 503 page. It is made where the reason is known (with the request's
/// language), and the app sends it as it is, with the cookies the handler set.
pub struct PageError(Response);

impl PageError {
    /// The service cannot answer right now (a broken dependency): logs what could
    /// not be done and why, and answers the 503 page. `doing` says what failed
    /// ("list sessions").
    pub fn unavailable(
        state: &AppState,
        lang: Language,
        doing: &str,
        error: impl fmt::Display,
    ) -> Self {
        tracing::error!(error = %error, "cannot {doing}: database unavailable (503)");
        Self(page(
            StatusCode::SERVICE_UNAVAILABLE,
            message_page(
                &chrome(state, lang),
                lang.text("status.unavailable.title"),
                lang.text("error.unavailable"),
                ("/login", lang.text("link.try_again")),
            ),
        ))
    }
}

impl From<Response> for PageError {
    fn from(response: Response) -> Self {
        Self(response)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0
    }
}

impl fmt::Debug for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageError({})", self.0.status())
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the page answered {}", self.0.status())
    }
}

impl std::error::Error for PageError {}

/// Carried through poem as an error, and turned back into its response by the
/// app (`catch_error`), so handlers can use `?`.
impl From<PageError> for poem::Error {
    fn from(error: PageError) -> Self {
        let status = error.0.status();
        poem::Error::new(error, status)
    }
}

/// Decodes an `application/x-www-form-urlencoded` body (already size-capped by the
/// guard); an unreadable one is a 400 page.
pub async fn read_form<T: DeserializeOwned>(
    state: &AppState,
    lang: Language,
    body: Body,
) -> Result<T, PageError> {
    let bytes = body
        .into_bytes()
        .await
        .map_err(|e| PageError(poem::Error::from(e).into_response()))?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| {
        PageError(page(
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
        ))
    })
}
