//! `/account/…`: what a signed-in person changes themselves — their name, and which
//! devices stay signed in.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Body, Response, handler};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::home::{render, signed_in};
use crate::domain::{PersonName, PublicSessionId};
use crate::i18n::Language;
use crate::login::name_key;
use crate::pages::FieldError;
use crate::session::ActiveSession;
use crate::state::AppState;
use crate::web::{read_form, see_other, unavailable};

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
async fn signed_in_with_form<F: DeserializeOwned>(
    state: &AppState,
    lang: Language,
    jar: &CookieJar,
    body: Body,
) -> Result<(ActiveSession, F), Response> {
    let active = signed_in(state, lang, jar).await?;
    let form = read_form(state, lang, body).await?;
    Ok((active, form))
}

#[handler]
pub async fn rename(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    jar: &CookieJar,
    body: Body,
) -> Response {
    let lang = *lang.0;
    let (active, form): (_, NameForm) = match signed_in_with_form(&state, lang, jar, body).await {
        Ok(both) => both,
        Err(response) => return response,
    };
    let name = match PersonName::parse(&form.first_name, &form.last_name) {
        Ok(name) => name,
        Err(e) => {
            let error = FieldError {
                field: e.field(),
                message: lang.text(name_key(&e)).to_owned(),
            };
            let typed = (form.first_name.as_str(), form.last_name.as_str());
            return render(
                &state,
                lang,
                &active,
                StatusCode::BAD_REQUEST,
                None,
                Some(error),
                Some(typed),
            )
            .await;
        }
    };
    match state.storage.rename_user(active.record.user_id, name).await {
        Ok(()) => see_other("/?done=name"),
        Err(e) => {
            tracing::error!(error = %e, "cannot save a name: database unavailable (503)");
            unavailable(&state, lang)
        }
    }
}

/// Signs out one of the person's own devices; anyone else's session id is a 404.
#[handler]
pub async fn end_session(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    jar: &CookieJar,
    body: Body,
) -> Response {
    let lang = *lang.0;
    let (active, form): (_, SessionForm) = match signed_in_with_form(&state, lang, jar, body).await
    {
        Ok(both) => both,
        Err(response) => return response,
    };
    match state
        .storage
        .delete_user_session(
            active.record.user_id,
            PublicSessionId::presented(&form.session),
        )
        .await
    {
        Ok(true) => see_other("/?done=ended"),
        Ok(false) => {
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
                None,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot end a session: database unavailable (503)");
            unavailable(&state, lang)
        }
    }
}

#[handler]
pub async fn end_other_sessions(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    jar: &CookieJar,
) -> Response {
    let lang = *lang.0;
    let active = match signed_in(&state, lang, jar).await {
        Ok(active) => active,
        Err(response) => return response,
    };
    match state
        .storage
        .delete_other_sessions(active.record.user_id, active.token.hash())
        .await
    {
        Ok(ended) => {
            tracing::info!(
                user_id = active.record.user_id,
                ended,
                "signed out everywhere else"
            );
            see_other("/?done=others")
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot end sessions: database unavailable (503)");
            unavailable(&state, lang)
        }
    }
}
