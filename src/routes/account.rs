//! `/account/…`: what a signed-in person changes themselves — their name, which
//! devices stay signed in, their passkeys.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::home::{render, signed_in};
use super::{PageError, read_form};
use crate::domain::{PersonName, PublicSessionId};
use crate::i18n::Language;
use crate::login::name_key;
use crate::pages::{FieldError, Typed};
use crate::passkeys::PasskeyError;
use crate::session::ActiveSession;
use crate::state::AppState;
use crate::web::see_other;

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

#[derive(Deserialize)]
struct SessionForm {
    #[serde(default)]
    session: String,
}

/// The signed-in person and the form they sent, or the answer that ends the
/// request (to the sign-in page, or a 4xx for a form that cannot be read).
pub(super) async fn signed_in_with_form<F: DeserializeOwned>(
    state: &AppState,
    lang: Language,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<(ActiveSession, F), PageError> {
    let active = signed_in(state, lang, req, jar).await?;
    let form = read_form(state, lang, body).await?;
    Ok((active, form))
}

#[handler]
pub async fn rename(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, NameForm) = signed_in_with_form(&state, lang, req, jar, body).await?;
    let name = match PersonName::parse(&form.first_name, &form.last_name) {
        Ok(name) => name,
        Err(e) => {
            let error = FieldError {
                field: e.field(),
                message: lang.text(name_key(&e)).to_owned(),
            };
            let typed = Typed {
                name: Some((form.first_name.as_str(), form.last_name.as_str())),
                ..Typed::default()
            };
            return render(
                &state,
                lang,
                &active,
                StatusCode::BAD_REQUEST,
                None,
                Some(error),
                typed,
            )
            .await;
        }
    };
    state
        .storage
        .rename_user(active.record.user_id, name)
        .await
        .map_err(|e| PageError::unavailable(&state, lang, "save a name", e))?;
    Ok(see_other("/?done=name"))
}

/// Signs out one of the person's own devices; anyone else's session id is a 404.
#[handler]
pub async fn end_session(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, SessionForm) =
        signed_in_with_form(&state, lang, req, jar, body).await?;
    let ended = state
        .storage
        .delete_user_session(
            active.record.user_id,
            PublicSessionId::presented(&form.session),
        )
        .await
        .map_err(|e| PageError::unavailable(&state, lang, "end a session", e))?;
    match ended {
        true => Ok(see_other("/?done=ended")),
        false => {
            let error = FieldError {
                field: "",
                message: lang.text("home.already_ended").into(),
            };
            render(
                &state,
                lang,
                &active,
                StatusCode::NOT_FOUND,
                None,
                Some(error),
                Typed::default(),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct AppForm {
    #[serde(default)]
    client_id: String,
}

/// Withdraws an app's access: forgets the consent and revokes its tokens.
#[handler]
pub async fn withdraw_app(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, AppForm) = signed_in_with_form(&state, lang, req, jar, body).await?;
    state
        .storage
        .withdraw_consent(
            active.record.user_id,
            form.client_id.clone(),
            state.clock.now(),
        )
        .await
        .map_err(|e| PageError::unavailable(&state, lang, "withdraw an app's access", e))?;
    tracing::info!(
        user_id = active.record.user_id,
        client = %form.client_id.escape_debug(),
        "withdrew an app's access"
    );
    Ok(see_other("/?done=app"))
}

#[handler]
pub async fn end_other_sessions(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let active = signed_in(&state, lang, req, jar).await?;
    let ended = state
        .storage
        .delete_other_sessions(active.record.user_id, active.token.hash())
        .await
        .map_err(|e| PageError::unavailable(&state, lang, "end sessions", e))?;
    tracing::info!(
        user_id = active.record.user_id,
        ended,
        "signed out everywhere else"
    );
    Ok(see_other("/?done=others"))
}

#[derive(Deserialize)]
struct PasskeyForm {
    #[serde(default)]
    passkey: String,
    #[serde(default)]
    name: String,
}

/// Renames one of the person's passkeys.
#[handler]
pub async fn rename_passkey(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, PasskeyForm) =
        signed_in_with_form(&state, lang, req, jar, body).await?;
    let id = form.passkey.parse().unwrap_or(-1);
    let renamed = state
        .passkeys
        .rename(active.record.user_id, id, &form.name)
        .await;
    passkey_answer(&state, lang, &active, renamed, "/?done=passkey-renamed").await
}

/// Removes one of the person's passkeys; it no longer signs in.
#[handler]
pub async fn remove_passkey(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, PasskeyForm) =
        signed_in_with_form(&state, lang, req, jar, body).await?;
    let id = form.passkey.parse().unwrap_or(-1);
    let removed = state.passkeys.remove(active.record.user_id, id).await;
    passkey_answer(&state, lang, &active, removed, "/?done=passkey-removed").await
}

/// To `done` on success; else the person's page with what went wrong.
async fn passkey_answer(
    state: &AppState,
    lang: Language,
    active: &ActiveSession,
    outcome: Result<(), PasskeyError>,
    done: &str,
) -> Result<Response, PageError> {
    let (status, key) = match outcome {
        Ok(()) => return Ok(see_other(done)),
        Err(PasskeyError::Unavailable(e)) => {
            return Err(PageError::unavailable(state, lang, "change a passkey", e));
        }
        Err(PasskeyError::BadName) => (StatusCode::BAD_REQUEST, "home.passkey_bad_name"),
        Err(PasskeyError::Disabled) => (StatusCode::FORBIDDEN, "passkey.failed"),
        Err(_) => (StatusCode::NOT_FOUND, "home.passkey_gone"),
    };
    let error = FieldError {
        field: "",
        message: lang.text(key).into(),
    };
    render(
        state,
        lang,
        active,
        status,
        None,
        Some(error),
        Typed::default(),
    )
    .await
}
