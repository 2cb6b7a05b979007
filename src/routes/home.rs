//! `/` and `/logout`: the signed-in person's page, and signing out.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Request, Response, handler};

use super::{PageError, chrome};
use crate::i18n::Language;
use crate::pages::{AppEntry, FieldError, HomeView, Typed, home_page};
use crate::session::{ActiveSession, Surface};
use crate::state::AppState;
use crate::web::{cookies, page, presented, see_other};

/// The live session of this browser; without one, to the sign-in page.
pub(super) async fn signed_in(
    state: &AppState,
    lang: Language,
    req: &Request,
    jar: &CookieJar,
) -> Result<ActiveSession, PageError> {
    let presented = presented(req, state, Surface::Page);
    let checked = state
        .sessions
        .check(presented.as_ref())
        .await
        .map_err(|e| PageError::unavailable(state, lang, "check a session", e))?;
    cookies::apply(jar, state, &checked.cookie);
    checked
        .session
        .ok_or_else(|| PageError::from(see_other("/login")))
}

/// Renders the person's page, with an optional notice or error.
pub(super) async fn render(
    state: &AppState,
    lang: Language,
    active: &ActiveSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<FieldError<'_>>,
    typed: Typed<'_>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let sessions = state
        .storage
        .list_sessions(active.record.user_id, now)
        .await
        .map_err(|e| PageError::unavailable(state, lang, "list sessions", e))?;
    let consents = state
        .storage
        .list_consents(active.record.user_id)
        .await
        .map_err(|e| PageError::unavailable(state, lang, "list apps", e))?;
    let mut apps = Vec::with_capacity(consents.len());
    for consent in consents {
        let name = match state.oidc.client(&consent.client_id).await {
            Ok(Some(client)) => client.name,
            _ => consent.client_id.clone(),
        };
        apps.push(AppEntry {
            client_id: consent.client_id,
            name,
            since: consent.created_at,
        });
    }
    let passkeys = match state.passkeys.enabled {
        true => Some(
            state
                .passkeys
                .list(active.record.user_id)
                .await
                .map_err(|e| PageError::unavailable(state, lang, "list passkeys", e))?,
        ),
        false => None,
    };
    let emails = state
        .storage
        .list_emails(active.record.user_id)
        .await
        .map_err(|e| PageError::unavailable(state, lang, "list addresses", e))?;
    let view = HomeView {
        emails: &emails,
        passkeys: passkeys.as_deref(),
        apps: &apps,
        session: &active.record,
        sessions: &sessions,
        now,
        notice,
        error,
        typed,
    };
    Ok(page(status, home_page(&chrome(state, lang), &view)))
}

/// Signed in: the person's page. Signed out: to the sign-in page.
#[handler]
pub async fn home(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let active = signed_in(&state, lang, req, jar).await?;
    // Set by the account actions' redirects (post, then redirect, then get).
    let notice = match req.uri().query() {
        Some("done=name") => Some(lang.text("home.name_saved")),
        Some("done=ended") => Some(lang.text("home.session_ended")),
        Some("done=others") => Some(lang.text("home.others_ended")),
        Some("done=app") => Some(lang.text("home.app_withdrawn")),
        Some("done=passkey") => Some(lang.text("home.passkey_added")),
        Some("done=passkey-renamed") => Some(lang.text("home.passkey_renamed")),
        Some("done=passkey-removed") => Some(lang.text("home.passkey_removed")),
        Some("done=email-added") => Some(lang.text("home.email_added")),
        Some("done=email-primary") => Some(lang.text("home.email_primary_changed")),
        Some("done=email-removed") => Some(lang.text("home.email_removed")),
        _ => None,
    };
    render(
        &state,
        lang,
        &active,
        StatusCode::OK,
        notice,
        None,
        Typed::default(),
    )
    .await
}

/// Deletes the session row and the cookie, and leaves the sign-in page a notice that
/// says so (the redirect itself stays exactly `/login`).
#[handler]
pub async fn logout(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
) -> Result<Response, PageError> {
    if let Some(presented) = cookies::session_from_headers(req, &state) {
        state
            .sessions
            .end(presented)
            .await
            .map_err(|e| PageError::unavailable(&state, *lang.0, "sign out", e))?;
    }
    cookies::clear_session(jar, &state);
    cookies::set_notice(jar, &state, cookies::Notice::SignedOut);
    Ok(see_other("/login"))
}
