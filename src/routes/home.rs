//! `/` and `/logout`: the signed-in person's page, and signing out.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Request, Response, handler};

use crate::i18n::Language;
use crate::pages::{FieldError, HomeView, home_page};
use crate::session::{self, ActiveSession};
use crate::state::AppState;
use crate::web::{chrome, cookies, page, see_other, unavailable};

/// The live session of this browser, or the response to give instead: to the
/// sign-in page when there is none, 503 when it cannot be checked.
pub(super) async fn signed_in(
    state: &AppState,
    lang: Language,
    jar: &CookieJar,
) -> Result<ActiveSession, Response> {
    let Some(presented) = cookies::session_value(jar, state) else {
        return Err(see_other("/login"));
    };
    match session::authenticate(state, &presented).await {
        Ok(Some(active)) => {
            if active.renewed {
                cookies::set_session(jar, state, active.token.expose());
            }
            Ok(active)
        }
        Ok(None) => {
            cookies::clear(jar, state, &state.cookies.session);
            Err(see_other("/login"))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a session: database unavailable (503)");
            Err(unavailable(state, lang))
        }
    }
}

/// Renders the person's page, with an optional notice or error.
pub(super) async fn render(
    state: &AppState,
    lang: Language,
    active: &ActiveSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<FieldError<'_>>,
    typed_name: Option<(&str, &str)>,
) -> Response {
    let now = state.clock.now();
    let sessions = match state
        .storage
        .list_sessions(active.record.user_id, now)
        .await
    {
        Ok(sessions) => sessions,
        Err(e) => {
            tracing::error!(error = %e, "cannot list sessions: database unavailable (503)");
            return unavailable(state, lang);
        }
    };
    let view = HomeView {
        session: &active.record,
        sessions: &sessions,
        now,
        notice,
        error,
        typed_name,
    };
    page(status, home_page(&chrome(state, lang), &view))
}

/// Signed in: the person's page. Signed out: to the sign-in page.
#[handler]
pub async fn home(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
) -> Response {
    let lang = *lang.0;
    let active = match signed_in(&state, lang, jar).await {
        Ok(active) => active,
        Err(response) => return response,
    };
    // Set by the account actions' redirects (post, then redirect, then get).
    let notice = match req.uri().query() {
        Some("done=name") => Some(lang.text("home.name_saved")),
        Some("done=ended") => Some(lang.text("home.session_ended")),
        Some("done=others") => Some(lang.text("home.others_ended")),
        _ => None,
    };
    render(&state, lang, &active, StatusCode::OK, notice, None, None).await
}

/// Deletes the session row and the cookie, and leaves the sign-in page a notice that
/// says so (the redirect itself stays exactly `/login`).
#[handler]
pub async fn logout(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    jar: &CookieJar,
) -> Response {
    if let Some(presented) = cookies::session_value(jar, &state)
        && let Err(e) = session::end(&state, &presented).await
    {
        tracing::error!(error = %e, "cannot sign out: database unavailable (503)");
        return unavailable(&state, *lang.0);
    }
    cookies::clear(jar, &state, &state.cookies.session);
    cookies::set_notice(jar, &state, cookies::Notice::SignedOut);
    see_other("/login")
}
