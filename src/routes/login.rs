//! `/login`: the sign-in / sign-up pages and their forms.

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, cookie::CookieJar};
use poem::{Body, Request, Response, handler};

use super::{PageError, chrome, read_form};
use crate::captcha::Captcha;
use crate::config::AskName;
use crate::forms::{ResendForm, StartForm, VerifyForm};
use crate::i18n::Language;
use crate::login::{self, CodeProblem, LoginError, NameInput, Verified};
use crate::pages::{
    CodeView, FieldError, LoginView, NameView, code_page, login_page, message_page, name_page,
};
use crate::redirect::{Targets, safe_next};
use crate::state::AppState;
use crate::storage::ChallengeInfo;
use crate::storage::Refusal;
use crate::web::{
    allow_form_target, client_ip, cookies, device, page, see_other, with_retry_after,
};

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
        let targets = Targets {
            hosts: &server.allowed_redirect_hosts,
            cookie_domain: state.settings.cookie_domain.as_deref(),
        };
        let next = raw.and_then(|raw| safe_next(raw, &server.base_url, targets));
        Carry {
            next,
            ..Carry::default()
        }
    }
}

/// `GET /login/altcha`: a fresh challenge for the ALTCHA widget, never cached; 404
/// with any other CAPTCHA provider.
#[handler]
pub fn altcha_challenge(state: Data<&Arc<AppState>>) -> Response {
    let Some(altcha) = state.signin.captcha.as_ref().and_then(Captcha::altcha) else {
        return StatusCode::NOT_FOUND.into();
    };
    let challenge = serde_json::to_string(&altcha.challenge()).unwrap_or_default();
    Response::builder()
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(challenge)
}

#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
) -> Response {
    let lang = *lang.0;
    let next = next_from_query(req.uri().query().unwrap_or(""));
    let carry = Carry::with_next(&state, next.as_deref());
    // "You are signed out." after `POST /logout`, once.
    let notice = cookies::take_notice(jar, &state).map(|n| lang.text(n.text_key()));
    let app = app_for(&state, carry.next.as_deref()).await;
    let view = LoginView {
        email: "",
        next: carry.next.as_deref(),
        notice,
        error: None,
        app: app.as_ref().map(|(name, _)| name.as_str()),
        passkeys: state.passkeys.enabled,
    };
    page(StatusCode::OK, login_page(&chrome(&state, lang), &view))
}

/// The app a person is signing in for, when `next` returns them to an OpenID
/// Connect authorization: its name, and the registered redirect URI it asked for.
async fn app_for(state: &AppState, next: Option<&str>) -> Option<(String, Option<String>)> {
    let next = next?;
    let path = next
        .strip_prefix(state.config.server.base_url.origin())
        .unwrap_or(next);
    let query = path.strip_prefix("/oidc/authorize?")?;
    let param = |key: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let client = state
        .oidc
        .client(&param("client_id")?)
        .await
        .ok()
        .flatten()?;
    let redirect_uri = param("redirect_uri").filter(|uri| client.redirect_uris.contains(uri));
    Some((client.name, redirect_uri))
}

/// A sign-in page on the way to an app: its forms may lead back to the app.
async fn toward_app(state: &AppState, next: Option<&str>, mut response: Response) -> Response {
    if let Some((_, Some(redirect_uri))) = app_for(state, next).await {
        allow_form_target(&mut response, state, &redirect_uri);
    }
    response
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
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let form: StartForm = read_form(&state, lang, body).await?;
    let carry = Carry {
        email: &form.email,
        ..Carry::with_next(&state, form.next.as_deref())
    };
    let ip = client_ip(req, &state);
    let binding = cookies::ensure_login_binding(jar, &state);
    // The email goes out in the language of the page that asked for it.
    let response = match login::start(
        &state.signin,
        &form.email,
        form.captcha(state.settings.captcha.as_ref()),
        ip,
        Some(binding),
        lang,
    )
    .await
    {
        Ok(info) => code_response(&state, lang, StatusCode::OK, &info, &carry, None, None),
        Err(error) => error_response(&state, lang, error, &carry),
    };
    Ok(toward_app(&state, carry.next.as_deref(), response).await)
}

/// Takes the code page (code, and names for a new address) and the name page
/// (names only, after a right code).
#[handler]
pub async fn verify(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let form: VerifyForm = read_form(&state, lang, body).await?;
    let carry = Carry {
        first_name: form.first_name.as_deref().unwrap_or(""),
        last_name: form.last_name.as_deref().unwrap_or(""),
        ..Carry::with_next(&state, form.next.as_deref())
    };
    let browser = cookies::login_binding_hash(jar, &state);
    let names = NameInput {
        first: form.first_name.as_deref(),
        last: form.last_name.as_deref(),
    };
    let result = match form.code.as_deref() {
        None if form.first_name.is_some() => login::complete(
            &state.signin,
            &form.challenge,
            browser,
            names,
            device(req, &state),
        )
        .await
        .map(Verified::SignedIn),
        code => {
            login::verify(
                &state.signin,
                &form.challenge,
                browser,
                code.unwrap_or(""),
                names,
                device(req, &state),
            )
            .await
        }
    };
    let response = match result {
        Ok(Verified::SignedIn(signed_in)) => {
            cookies::set_signed_in(jar, &state, &signed_in);
            see_other(carry.next.as_deref().unwrap_or("/"))
        }
        Ok(Verified::NeedsName(info)) => {
            name_response(&state, lang, StatusCode::OK, &info, &carry, None)
        }
        Err(error) => error_response(&state, lang, error, &carry),
    };
    Ok(toward_app(&state, carry.next.as_deref(), response).await)
}

#[handler]
pub async fn resend(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let form: ResendForm = read_form(&state, lang, body).await?;
    let carry = Carry::with_next(&state, form.next.as_deref());
    let ip = client_ip(req, &state);
    let browser = cookies::login_binding_hash(jar, &state);
    let response = match login::resend(&state.signin, &form.challenge, browser, ip, lang).await {
        Ok(info) => {
            let notice = lang.text("code.resent");
            code_response(
                &state,
                lang,
                StatusCode::OK,
                &info,
                &carry,
                Some(notice),
                None,
            )
        }
        Err(error) => error_response(&state, lang, error, &carry),
    };
    Ok(toward_app(&state, carry.next.as_deref(), response).await)
}

fn login_response(
    state: &AppState,
    lang: Language,
    status: StatusCode,
    carry: &Carry,
    error: Option<FieldError>,
) -> Response {
    let view = LoginView {
        email: carry.email,
        next: carry.next.as_deref(),
        notice: None,
        error,
        app: None,
        passkeys: state.passkeys.enabled,
    };
    page(status, login_page(&chrome(state, lang), &view))
}

fn code_response(
    state: &AppState,
    lang: Language,
    status: StatusCode,
    info: &ChallengeInfo,
    carry: &Carry,
    notice: Option<&str>,
    error: Option<FieldError>,
) -> Response {
    code_page_response(state, lang, status, info, carry, notice, error, None)
}

/// The code page. `resend_in` is the wait before a new code may be asked for, when
/// a refusal told it exactly; otherwise it is worked out from the newest code,
/// which was sent `code.ttl_secs` before the sign-in's expiry.
#[allow(clippy::too_many_arguments)]
fn code_page_response(
    state: &AppState,
    lang: Language,
    status: StatusCode,
    info: &ChallengeInfo,
    carry: &Carry,
    notice: Option<&str>,
    error: Option<FieldError>,
    resend_in: Option<i64>,
) -> Response {
    // In `after_code` mode every address gets this same page, so it says nothing
    // about whether the address has an account.
    let ask_names = !info.has_account && state.settings.ask_name == AskName::WithCode;
    let now = state.clock.now();
    let seconds_left = (info.expires_at - now).max(0);
    let code = &state.settings.code;
    let last_sent = info.expires_at.saturating_sub(code.ttl_secs);
    let resend_interval = code.resend_interval_secs;
    let resend_in = resend_in
        .unwrap_or_else(|| last_sent.saturating_add(resend_interval) - now)
        .clamp(0, resend_interval);
    let view = CodeView {
        info,
        ask_names,
        notice,
        error,
        first_name: carry.first_name,
        last_name: carry.last_name,
        next: carry.next.as_deref(),
        minutes_left: (seconds_left + 59) / 60,
        resend_in,
    };
    page(status, code_page(&chrome(state, lang), &view))
}

fn name_response(
    state: &AppState,
    lang: Language,
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
    page(status, name_page(&chrome(state, lang), &view))
}

/// The one place a sign-in error becomes a status and a page.
fn error_response(state: &AppState, lang: Language, error: LoginError, carry: &Carry) -> Response {
    error.log_if_dependency_failed();
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let retry_after = error.retry_after();
    let message = error.message(lang);
    let response = match &error {
        LoginError::InvalidEmail(_) => login_response(
            state,
            lang,
            status,
            carry,
            Some(FieldError {
                field: "email",
                message,
            }),
        ),
        LoginError::Limited(refusal, Some(info)) => {
            let resend_in = match refusal {
                Refusal::ResendTooSoon { .. } => Some(refusal.retry_after()),
                _ => None,
            };
            code_page_response(
                state,
                lang,
                status,
                info,
                carry,
                None,
                Some(FieldError { field: "", message }),
                resend_in,
            )
        }
        LoginError::OnCodePage { info, problem } => {
            let field = match problem {
                CodeProblem::BadName(e) => e.field(),
                CodeProblem::WrongCode | CodeProblem::BadCode(_) | CodeProblem::CodeNeeded => {
                    "code"
                }
            };
            code_response(
                state,
                lang,
                status,
                info,
                carry,
                None,
                Some(FieldError { field, message }),
            )
        }
        LoginError::OnNamePage { info, problem } => name_response(
            state,
            lang,
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
                &chrome(state, lang),
                lang.text("status.start_again.title"),
                &message,
                ("/login", lang.text("link.start_again")),
            ),
        ),
        LoginError::SignupClosed(_) => page(
            status,
            message_page(
                &chrome(state, lang),
                lang.text("status.signup_closed.title"),
                &message,
                ("/login", lang.text("link.other_address")),
            ),
        ),
        LoginError::CaptchaMissing
        | LoginError::CaptchaRejected
        | LoginError::CaptchaUnavailable(_)
        | LoginError::Limited(_, None)
        | LoginError::Unavailable(_) => login_response(
            state,
            lang,
            status,
            carry,
            Some(FieldError { field: "", message }),
        ),
    };
    with_retry_after(response, retry_after)
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
