use maud::{Markup, html};

use super::{
    Chrome, FieldError, TimeStyle, Widget, banner, described_by, field_error, invalid, layout,
    moment, notice,
};
use crate::i18n::Language;
use crate::storage::ChallengeInfo;

pub struct LoginView<'a> {
    pub email: &'a str,
    pub next: Option<&'a str>,
    /// A confirmation of what just happened ("You are signed out.").
    pub notice: Option<&'a str>,
    pub error: Option<FieldError<'a>>,
    /// The app the person is signing in for ("Sign in to continue to Grafana").
    pub app: Option<&'a str>,
    /// Offer passkeys (app.js shows the button when the browser has them).
    pub passkeys: bool,
}

pub fn login_page(chrome: &Chrome, view: &LoginView) -> Markup {
    let t = chrome.lang;
    let error = view.error.as_ref();
    layout(
        chrome,
        t.text("login.title"),
        true,
        html! {
            h1 { (t.text("login.title")) }
            @if let Some(app) = view.app {
                p class="lead" id="continue-to" { (t.fill("login.continue_to", &[("app", &app)])) }
            }
            p class="lead" { (t.text("login.lead")) }
            (notice(view.notice))
            (banner(error))
            form method="post" action="/login" novalidate {
                (next_input(view.next))
                label for="email" { (t.text("login.email_label")) }
                input id="email" name="email" type="email" value=(view.email)
                    autocomplete=(if view.passkeys { "email webauthn" } else { "email" })
                    autocapitalize="none" spellcheck="false" inputmode="email"
                    required autofocus maxlength="255"
                    aria-invalid=[invalid(error, "email")]
                    aria-describedby=[described_by(error, "email")];
                (field_error(error, "email"))
                @if let Some(widget) = chrome.captcha {
                    (captcha_widget(widget, t))
                }
                button type="submit" class="primary" { (t.text("login.submit")) }
            }
            @if view.passkeys {
                div class="passkey" data-passkey-sign-in data-next=(view.next.unwrap_or("/"))
                    data-msg-busy=(t.text("passkey.busy"))
                    data-msg-failed=(t.text("passkey.failed"))
                    data-msg-cancelled=(t.text("passkey.cancelled"))
                    data-msg-unknown=(t.text("passkey.unknown"))
                    data-msg-unverified=(t.text("passkey.unverified"))
                    data-msg-limited=(t.text("passkey.limited")) {
                    p class="or" hidden { (t.text("login.or")) }
                    button type="button" id="passkey-sign-in" class="quiet" hidden { (t.text("login.passkey")) }
                    p class="passkey-status" role="status" aria-live="polite" {}
                }
            }
        },
    )
}

pub struct CodeView<'a> {
    pub info: &'a ChallengeInfo,
    /// Show the name fields (a new address, `signup.ask_name = with_code`).
    pub ask_names: bool,
    pub notice: Option<&'a str>,
    pub error: Option<FieldError<'a>>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub next: Option<&'a str>,
    /// Whole minutes until the newest code expires (rounded up).
    pub minutes_left: i64,
    /// Seconds until a new code may be asked for; 0 when it may be now.
    pub resend_in: i64,
}

pub fn code_page(chrome: &Chrome, view: &CodeView) -> Markup {
    let t = chrome.lang;
    let error = view.error.as_ref();
    let id = view.info.id.as_str();
    let expires = moment(t, view.info.expires_at, TimeStyle::Clock);
    layout(
        chrome,
        t.text("code.title"),
        false,
        html! {
            h1 { (t.text("code.heading")) }
            p class="lead" {
                (t.rich("code.sent_to", &[("email", html! { strong { (view.info.email) } })]))
                " "
                (t.rich("code.expires", &[
                    ("time", expires),
                    ("in_minutes", html! {
                        span class="nowrap" { (t.count("time.in_minutes", view.minutes_left)) }
                    }),
                ]))
            }
            (notice(view.notice))
            (banner(error))
            form method="post" action="/login/verify" novalidate {
                input type="hidden" name="challenge" value=(id);
                (next_input(view.next))
                (code_field(t, error))
                @if view.ask_names {
                    p class="hint" { (t.text("code.new_here")) }
                    (name_fields(chrome, error, view.first_name, view.last_name, false))
                }
                button type="submit" class="primary" {
                    @if view.ask_names { (t.text("code.create_account")) } @else { (t.text("code.submit")) }
                }
            }
            div class="more" {
                form method="post" action="/login/resend" {
                    input type="hidden" name="challenge" value=(id);
                    (next_input(view.next))
                    (resend_button(chrome, view.resend_in))
                }
                a href="/login" { (t.text("code.other_address")) }
            }
        },
    )
}

/// The field a mailed code is typed into, with its label and its message.
pub(super) fn code_field(t: crate::i18n::Language, error: Option<&FieldError>) -> Markup {
    html! {
        label for="code" { (t.text("code.code_label")) }
        input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
            maxlength="16" required autofocus class="code-input" spellcheck="false"
            aria-invalid=[invalid(error, "code")]
            aria-describedby=[described_by(error, "code")];
        (field_error(error, "code"))
    }
}

/// "Send a new code", or while the resend interval runs, the same button looking
/// unavailable and saying when it will be. app.js counts down and enables it; without
/// JavaScript it still submits, and a resend that is too soon gets a 429 page that
/// says how long to wait.
fn resend_button(chrome: &Chrome, wait_secs: i64) -> Markup {
    let t = chrome.lang;
    html! {
        @if wait_secs > 0 {
            button type="submit" class="link" aria-disabled="true"
                data-countdown=(wait_secs)
                data-countdown-label=(t.fill("code.resend_wait", &[("seconds", &"{seconds}")]))
                data-ready-label=(t.text("code.resend")) {
                (t.fill("code.resend_wait", &[("seconds", &wait_secs)]))
            }
        } @else {
            button type="submit" class="link" { (t.text("code.resend")) }
        }
    }
}

pub struct NameView<'a> {
    pub info: &'a ChallengeInfo,
    pub error: Option<FieldError<'a>>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub next: Option<&'a str>,
}

pub fn name_page(chrome: &Chrome, view: &NameView) -> Markup {
    let t = chrome.lang;
    let error = view.error.as_ref();
    layout(
        chrome,
        t.text("name.title"),
        false,
        html! {
            h1 { (t.text("name.heading")) }
            p class="lead" { (t.rich("name.lead", &[("email", html! { strong { (view.info.email) } })])) }
            (banner(error))
            form method="post" action="/login/verify" novalidate {
                input type="hidden" name="challenge" value=(view.info.id);
                (next_input(view.next))
                (name_fields(chrome, error, view.first_name, view.last_name, true))
                button type="submit" class="primary" { (t.text("name.submit")) }
            }
        },
    )
}

pub(super) fn name_fields(
    chrome: &Chrome,
    error: Option<&FieldError>,
    first: &str,
    last: &str,
    autofocus: bool,
) -> Markup {
    let t = chrome.lang;
    html! {
        label for="first_name" { (t.text("name.first")) }
        input id="first_name" name="first_name" type="text" value=(first) autocomplete="given-name"
            maxlength="127" required autofocus[autofocus]
            aria-invalid=[invalid(error, "first_name")]
            aria-describedby=[described_by(error, "first_name")];
        (field_error(error, "first_name"))
        label for="last_name" { (t.text("name.last")) " " span class="optional" { (t.text("name.optional")) } }
        input id="last_name" name="last_name" type="text" value=(last) autocomplete="family-name"
            maxlength="127"
            aria-invalid=[invalid(error, "last_name")]
            aria-describedby=[described_by(error, "last_name")];
        (field_error(error, "last_name"))
    }
}

/// Carries the (already checked) return address through the sign-in steps.
fn next_input(next: Option<&str>) -> Markup {
    html! {
        @if let Some(next) = next {
            input type="hidden" name="next" value=(next);
        }
    }
}

/// The provider's widget inside the sign-in form, which fills in its field.
fn captcha_widget(widget: Widget, t: Language) -> Markup {
    html! {
        @match widget {
            Widget::Turnstile(site_key) => {
                div class="cf-turnstile" data-captcha-widget data-sitekey=(site_key) data-language=(t.code()) {}
            }
            Widget::Hcaptcha(site_key) => {
                div class="h-captcha" data-captcha-widget data-sitekey=(site_key) {}
            }
            Widget::Altcha => {
                // Solves its challenge as the page loads, in a worker; by the time a
                // person has typed their address it is done.
                altcha-widget challengeurl="/login/altcha" name="altcha" auto="onload"
                    hidefooter hidelogo strings=(altcha_strings(t)) {}
            }
        }
        @if let Some(host) = widget.host() {
            // Empty, and so taking no room, unless the widget's script cannot load:
            // then app.js hides the widget and puts the message here. It is on the
            // page from the start because screen readers announce changes to a live
            // region they already know, not a new one.
            div class="captcha-status banner error" role="status"
                data-captcha-failed=(t.fill("page.captcha_failed", &[("host", &host)])) {}
        }
        noscript { p class="hint" { (t.text("page.captcha_needs_js")) } }
    }
}

/// The ALTCHA widget's words, in the page's language (its `strings` attribute).
fn altcha_strings(t: Language) -> String {
    serde_json::json!({
        "label": t.text("altcha.label"),
        "verifying": t.text("altcha.verifying"),
        "verified": t.text("altcha.verified"),
        "waitAlert": t.text("altcha.wait"),
        "verificationRequired": t.text("altcha.required"),
        "expired": t.text("altcha.expired"),
        "error": t.text("altcha.error"),
    })
    .to_string()
}
