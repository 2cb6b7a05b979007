//! `/login`: the sign-in / sign-up pages and their forms.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, cookie::CookieJar};
use poem::{Body, Request, Response, handler};

use crate::config::AskName;
use crate::forms::{ResendForm, StartForm, VerifyForm};
use crate::login::{self, CodeProblem, LoginError, NameInput, Verified};
use crate::pages::{
    CodeView, FieldError, LoginView, NameView, code_page, login_page, message_page, name_page,
};
use crate::state::AppState;
use crate::storage::ChallengeInfo;
use crate::web::{chrome, client_ip, cookies, page, read_form, see_other, with_retry_after};

#[handler]
pub async fn show(state: Data<&Arc<AppState>>) -> Response {
    let view = LoginView {
        email: "",
        error: None,
    };
    page(StatusCode::OK, login_page(&chrome(&state), &view))
}

#[handler]
pub async fn start(
    state: Data<&Arc<AppState>>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Response {
    let form: StartForm = match read_form(&state, body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let ip = client_ip(req, state.config.server.trust_proxy_headers);
    let binding = cookies::ensure_login_binding(jar, &state);
    match login::start(&state, &form.email, &form.captcha, ip, Some(binding)).await {
        Ok(info) => code_response(&state, StatusCode::OK, &info, None, None, ("", "")),
        Err(error) => error_response(&state, error, &form.email, ("", "")),
    }
}

/// Takes the code page (code, and names for a new address) and the name page
/// (names only, after a right code).
#[handler]
pub async fn verify(
    state: Data<&Arc<AppState>>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Response {
    let form: VerifyForm = match read_form(&state, body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let browser = cookies::login_binding_hash(jar, &state);
    let user_agent = req.header(poem::http::header::USER_AGENT);
    let names = NameInput {
        first: form.first_name.as_deref(),
        last: form.last_name.as_deref(),
    };
    let typed = (
        form.first_name.as_deref().unwrap_or(""),
        form.last_name.as_deref().unwrap_or(""),
    );
    let result = match form.code.as_deref() {
        None if form.first_name.is_some() => {
            login::complete(&state, &form.challenge, browser, names, user_agent)
                .await
                .map(Verified::SignedIn)
        }
        code => {
            login::verify(
                &state,
                &form.challenge,
                browser,
                code.unwrap_or(""),
                names,
                user_agent,
            )
            .await
        }
    };
    match result {
        Ok(Verified::SignedIn(signed_in)) => {
            cookies::set_session(
                jar,
                &state,
                signed_in.token.expose(),
                signed_in.session.expires_at,
            );
            see_other("/")
        }
        Ok(Verified::NeedsName(info)) => {
            let view = NameView {
                info: &info,
                error: None,
                first_name: "",
                last_name: "",
            };
            page(StatusCode::OK, name_page(&chrome(&state), &view))
        }
        Err(error) => error_response(&state, error, "", typed),
    }
}

#[handler]
pub async fn resend(
    state: Data<&Arc<AppState>>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Response {
    let form: ResendForm = match read_form(&state, body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let ip = client_ip(req, state.config.server.trust_proxy_headers);
    let browser = cookies::login_binding_hash(jar, &state);
    match login::resend(&state, &form.challenge, browser, ip).await {
        Ok(info) => {
            let notice =
                "We are sending you a new code. Any earlier code still works until it expires.";
            code_response(&state, StatusCode::OK, &info, Some(notice), None, ("", ""))
        }
        Err(error) => error_response(&state, error, "", ("", "")),
    }
}

fn code_response(
    state: &AppState,
    status: StatusCode,
    info: &ChallengeInfo,
    notice: Option<&str>,
    error: Option<FieldError>,
    names: (&str, &str),
) -> Response {
    // In `after_code` mode every address gets this same page, so it says nothing
    // about whether the address has an account.
    let ask_names = !info.has_account && state.config.signup.ask_name == AskName::WithCode;
    let seconds_left = (info.expires_at - state.clock.now()).max(0);
    let view = CodeView {
        info,
        ask_names,
        notice,
        error,
        first_name: names.0,
        last_name: names.1,
        minutes_left: (seconds_left + 59) / 60,
    };
    page(status, code_page(&chrome(state), &view))
}

/// The one place a sign-in error becomes a status and a page.
fn error_response(
    state: &AppState,
    error: LoginError,
    email: &str,
    names: (&str, &str),
) -> Response {
    error.log_if_dependency_failed();
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let retry_after = error.retry_after();
    let message = error.to_string();
    let response = match &error {
        LoginError::InvalidEmail(_) => {
            let view = LoginView {
                email,
                error: Some(FieldError {
                    field: "email",
                    message,
                }),
            };
            page(status, login_page(&chrome(state), &view))
        }
        LoginError::Limited(_, Some(info)) => code_response(
            state,
            status,
            info,
            None,
            Some(FieldError { field: "", message }),
            names,
        ),
        LoginError::OnCodePage { info, problem } => {
            let (field, message) = match problem {
                CodeProblem::WrongCode => ("code", wrong_code_message(info.attempts_left)),
                CodeProblem::BadName(e) => (e.field(), message),
                CodeProblem::BadCode(_) | CodeProblem::CodeNeeded => ("code", message),
            };
            code_response(
                state,
                status,
                info,
                None,
                Some(FieldError { field, message }),
                names,
            )
        }
        LoginError::OnNamePage { info, problem } => {
            let view = NameView {
                info,
                error: Some(FieldError {
                    field: problem.field(),
                    message,
                }),
                first_name: names.0,
                last_name: names.1,
            };
            page(status, name_page(&chrome(state), &view))
        }
        LoginError::Closed(_) => page(
            status,
            message_page(
                &chrome(state),
                "Please start again",
                &message,
                ("/login", "Start again"),
            ),
        ),
        LoginError::CaptchaMissing
        | LoginError::CaptchaRejected
        | LoginError::CaptchaUnavailable(_)
        | LoginError::Limited(_, None)
        | LoginError::Unavailable(_) => {
            let view = LoginView {
                email,
                error: Some(FieldError { field: "", message }),
            };
            page(status, login_page(&chrome(state), &view))
        }
    };
    with_retry_after(response, retry_after)
}

fn wrong_code_message(attempts_left: u32) -> String {
    match attempts_left {
        1 => "That code is not right. You have 1 attempt left.".into(),
        n => format!("That code is not right. You have {n} attempts left."),
    }
}
