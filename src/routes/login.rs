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
use crate::redirect::safe_next;
use crate::state::AppState;
use crate::storage::ChallengeInfo;
use crate::web::{chrome, client_ip, cookies, page, read_form, see_other, with_retry_after};

/// What the pages carry from one step to the next: what the person typed (shown
/// again after an error) and where to go after signing in (already checked).
#[derive(Default)]
struct Carry<'a> {
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    next: Option<String>,
}

impl Carry<'_> {
    fn with_next(state: &AppState, raw: Option<&str>) -> Self {
        let server = &state.config.server;
        let next =
            raw.and_then(|raw| safe_next(raw, &server.base_url, &server.allowed_redirect_hosts));
        Carry {
            next,
            ..Carry::default()
        }
    }
}

#[handler]
pub async fn show(state: Data<&Arc<AppState>>, req: &Request) -> Response {
    let next = next_from_query(req.uri().query().unwrap_or(""));
    let carry = Carry::with_next(&state, next.as_deref());
    login_response(&state, StatusCode::OK, &carry, None)
}

/// `next` from the query string. Proxies such as nginx cannot percent-encode the
/// address they send people back to (`/login?next=$request_uri`), so when `next`
/// comes first, everything after `next=` is its value, `&` and `?` included.
fn next_from_query(query: &str) -> Option<String> {
    let raw = match query.strip_prefix("next=") {
        Some(rest) => rest,
        None => query
            .split('&')
            .find_map(|pair| pair.strip_prefix("next="))?,
    };
    let raw = raw.replace('+', " ");
    Some(
        percent_encoding::percent_decode_str(&raw)
            .decode_utf8()
            .ok()?
            .into_owned(),
    )
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
    let carry = Carry {
        email: &form.email,
        ..Carry::with_next(&state, form.next.as_deref())
    };
    let ip = client_ip(req, state.config.server.trust_proxy_headers);
    let binding = cookies::ensure_login_binding(jar, &state);
    match login::start(&state, &form.email, &form.captcha, ip, Some(binding)).await {
        Ok(info) => code_response(&state, StatusCode::OK, &info, &carry, None, None),
        Err(error) => error_response(&state, error, &carry),
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
    let carry = Carry {
        first_name: form.first_name.as_deref().unwrap_or(""),
        last_name: form.last_name.as_deref().unwrap_or(""),
        ..Carry::with_next(&state, form.next.as_deref())
    };
    let browser = cookies::login_binding_hash(jar, &state);
    let user_agent = req.header(poem::http::header::USER_AGENT);
    let names = NameInput {
        first: form.first_name.as_deref(),
        last: form.last_name.as_deref(),
    };
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
            see_other(carry.next.as_deref().unwrap_or("/"))
        }
        Ok(Verified::NeedsName(info)) => name_response(&state, StatusCode::OK, &info, &carry, None),
        Err(error) => error_response(&state, error, &carry),
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
    let carry = Carry::with_next(&state, form.next.as_deref());
    let ip = client_ip(req, state.config.server.trust_proxy_headers);
    let browser = cookies::login_binding_hash(jar, &state);
    match login::resend(&state, &form.challenge, browser, ip).await {
        Ok(info) => {
            let notice =
                "We are sending you a new code. Any earlier code still works until it expires.";
            code_response(&state, StatusCode::OK, &info, &carry, Some(notice), None)
        }
        Err(error) => error_response(&state, error, &carry),
    }
}

fn login_response(
    state: &AppState,
    status: StatusCode,
    carry: &Carry,
    error: Option<FieldError>,
) -> Response {
    let view = LoginView {
        email: carry.email,
        next: carry.next.as_deref(),
        error,
    };
    page(status, login_page(&chrome(state), &view))
}

fn code_response(
    state: &AppState,
    status: StatusCode,
    info: &ChallengeInfo,
    carry: &Carry,
    notice: Option<&str>,
    error: Option<FieldError>,
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
        first_name: carry.first_name,
        last_name: carry.last_name,
        next: carry.next.as_deref(),
        minutes_left: (seconds_left + 59) / 60,
    };
    page(status, code_page(&chrome(state), &view))
}

fn name_response(
    state: &AppState,
    status: StatusCode,
    info: &ChallengeInfo,
    carry: &Carry,
    error: Option<FieldError>,
) -> Response {
    let view = NameView {
        info,
        error,
        first_name: carry.first_name,
        last_name: carry.last_name,
        next: carry.next.as_deref(),
    };
    page(status, name_page(&chrome(state), &view))
}

/// The one place a sign-in error becomes a status and a page.
fn error_response(state: &AppState, error: LoginError, carry: &Carry) -> Response {
    error.log_if_dependency_failed();
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let retry_after = error.retry_after();
    let message = error.to_string();
    let response = match &error {
        LoginError::InvalidEmail(_) => login_response(
            state,
            status,
            carry,
            Some(FieldError {
                field: "email",
                message,
            }),
        ),
        LoginError::Limited(_, Some(info)) => code_response(
            state,
            status,
            info,
            carry,
            None,
            Some(FieldError { field: "", message }),
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
                carry,
                None,
                Some(FieldError { field, message }),
            )
        }
        LoginError::OnNamePage { info, problem } => name_response(
            state,
            status,
            info,
            carry,
            Some(FieldError {
                field: problem.field(),
                message,
            }),
        ),
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
        | LoginError::Unavailable(_) => login_response(
            state,
            status,
            carry,
            Some(FieldError { field: "", message }),
        ),
    };
    with_retry_after(response, retry_after)
}

fn wrong_code_message(attempts_left: u32) -> String {
    match attempts_left {
        1 => "That code is not right. You have 1 attempt left.".into(),
        n => format!("That code is not right. You have {n} attempts left."),
    }
}

#[cfg(test)]
mod tests {
    use super::next_from_query;

    #[test]
    fn next_is_read_whole_when_it_comes_first() {
        let cases = [
            (
                "next=/reports?year=2026&q=a",
                Some("/reports?year=2026&q=a"),
            ),
            ("next=%2Faccount%3Ftab%3D2", Some("/account?tab=2")),
            ("lang=en&next=/x", Some("/x")),
            ("lang=en", None),
            ("", None),
            ("next=%FF", None),
        ];
        for (query, expected) in cases {
            assert_eq!(next_from_query(query).as_deref(), expected, "{query}");
        }
    }
}
