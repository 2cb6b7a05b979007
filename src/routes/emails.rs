//! `/account/emails…`: a signed-in person's addresses — add one with a code
//! mailed to it, make one primary, remove one.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;

use super::account::signed_in_with_form;
use super::home::render;
use super::{PageError, chrome};
use crate::i18n::Language;
use crate::login::emails::{self, AddressError, Asker};
use crate::login::{CodeProblem, LoginError};
use crate::pages::{FieldError, NEW_EMAIL_FIELD, Typed, address_code_page};
use crate::session::ActiveSession;
use crate::state::AppState;
use crate::web::{client_ip, page, see_other, with_retry_after};

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    code: String,
}

/// Mails a code to the address and answers the form that takes it.
#[handler]
pub async fn add(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, EmailForm) = signed_in_with_form(&state, lang, req, jar, body).await?;
    let ip = client_ip(req, &state);
    match emails::start(&state.signin, &Asker::of(&active), &form.email, ip, lang).await {
        Ok(info) => Ok(page(
            StatusCode::OK,
            address_code_page(&chrome(&state, lang), &info, None),
        )),
        Err(e) => failed(&state, lang, &active, e, Some(&form.email)).await,
    }
}

/// The right code adds the address.
#[handler]
pub async fn verify(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, CodeForm) = signed_in_with_form(&state, lang, req, jar, body).await?;
    let verified = emails::verify(
        &state.signin,
        &Asker::of(&active),
        &form.challenge,
        &form.code,
        lang,
    )
    .await;
    match verified {
        Ok(_) => Ok(see_other("/?done=email-added")),
        Err(e) => failed(&state, lang, &active, e, None).await,
    }
}

#[handler]
pub async fn make_primary(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, EmailForm) = signed_in_with_form(&state, lang, req, jar, body).await?;
    match emails::make_primary(&state.signin, active.record.user_id, &form.email).await {
        Ok(_) => Ok(see_other("/?done=email-primary")),
        Err(e) => failed(&state, lang, &active, e, None).await,
    }
}

#[handler]
pub async fn remove(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let (active, form): (_, EmailForm) = signed_in_with_form(&state, lang, req, jar, body).await?;
    match emails::remove(&state.signin, active.record.user_id, &form.email, lang).await {
        Ok(_) => Ok(see_other("/?done=email-removed")),
        Err(e) => failed(&state, lang, &active, e, None).await,
    }
}

/// A code that can still be retried goes back to its form; everything else to
/// the person's page, with the address they typed when it was an address's fault.
async fn failed(
    state: &AppState,
    lang: Language,
    active: &ActiveSession,
    error: AddressError,
    typed: Option<&str>,
) -> Result<Response, PageError> {
    error.log_if_dependency_failed();
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if let AddressError::Code(LoginError::Unavailable(e)) = error {
        return Err(PageError::unavailable(state, lang, "change an address", e));
    }
    let retry_after = error.retry_after();
    let field = match &error {
        AddressError::Code(LoginError::InvalidEmail(_)) => NEW_EMAIL_FIELD,
        AddressError::Code(LoginError::OnCodePage {
            problem: CodeProblem::BadCode(_) | CodeProblem::WrongCode,
            ..
        }) => "code",
        _ => "",
    };
    let shown = FieldError {
        field,
        message: error.message(lang),
    };
    let response = match error.challenge() {
        Some(info) => page(
            status,
            address_code_page(&chrome(state, lang), info, Some(&shown)),
        ),
        None => {
            let typed = Typed {
                email: typed,
                ..Typed::default()
            };
            render(state, lang, active, status, None, Some(shown), typed).await?
        }
    };
    Ok(with_retry_after(response, retry_after))
}
