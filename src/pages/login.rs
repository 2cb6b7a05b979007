use maud::{Markup, html};

use super::{Chrome, FieldError, banner, described_by, field_error, layout, notice};
use crate::storage::ChallengeInfo;

pub struct LoginView<'a> {
    pub email: &'a str,
    pub next: Option<&'a str>,
    pub error: Option<FieldError<'a>>,
}

pub fn login_page(chrome: &Chrome, view: &LoginView) -> Markup {
    let error = view.error.as_ref();
    layout(
        chrome,
        "Sign in or sign up",
        true,
        html! {
            h1 { "Sign in or sign up" }
            p class="lead" { "Enter your email address. We will send you a 6-digit code — no password needed." }
            (banner(error))
            form method="post" action="/login" novalidate {
                (next_input(view.next))
                label for="email" { "Email address" }
                input id="email" name="email" type="email" value=(view.email)
                    autocomplete="email" autocapitalize="none" spellcheck="false" inputmode="email"
                    required autofocus maxlength="255"
                    aria-invalid=[described_by(error, "email").map(|_| "true")]
                    aria-describedby=[described_by(error, "email")];
                (field_error(error, "email"))
                @if let Some(site_key) = chrome.turnstile_site_key {
                    div class="cf-turnstile" data-sitekey=(site_key) {}
                    noscript { p class="hint" { "The security check needs JavaScript. Please turn it on for this page." } }
                }
                button type="submit" { "Continue" }
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
    pub minutes_left: i64,
}

pub fn code_page(chrome: &Chrome, view: &CodeView) -> Markup {
    let error = view.error.as_ref();
    let id = view.info.id.as_str();
    layout(
        chrome,
        "Enter your code",
        false,
        html! {
            h1 { "Check your email" }
            p class="lead" {
                "We are sending a 6-digit code to " strong { (view.info.email) } ". "
                "It can take a minute to arrive, and works for "
                (plural(view.minutes_left, "minute")) "."
            }
            (notice(view.notice))
            (banner(error))
            form method="post" action="/login/verify" novalidate {
                input type="hidden" name="challenge" value=(id);
                (next_input(view.next))
                label for="code" { "6-digit code" }
                input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="16" required autofocus class="code-input"
                    aria-invalid=[described_by(error, "code").map(|_| "true")]
                    aria-describedby=[described_by(error, "code")];
                (field_error(error, "code"))
                @if view.ask_names {
                    p class="hint" { "New here? Tell us your name to create your account." }
                    (name_fields(error, view.first_name, view.last_name, false))
                }
                button type="submit" { @if view.ask_names { "Create account" } @else { "Continue" } }
            }
            form method="post" action="/login/resend" class="secondary" {
                input type="hidden" name="challenge" value=(id);
                (next_input(view.next))
                button type="submit" class="link" { "Send a new code" }
            }
            p class="secondary" { a href="/login" { "Use a different email address" } }
        },
    )
}

pub struct NameView<'a> {
    pub info: &'a ChallengeInfo,
    pub error: Option<FieldError<'a>>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub next: Option<&'a str>,
}

pub fn name_page(chrome: &Chrome, view: &NameView) -> Markup {
    let error = view.error.as_ref();
    layout(
        chrome,
        "Create your account",
        false,
        html! {
            h1 { "Welcome!" }
            p class="lead" { "Your email " strong { (view.info.email) } " is confirmed. What should we call you?" }
            (banner(error))
            form method="post" action="/login/verify" novalidate {
                input type="hidden" name="challenge" value=(view.info.id);
                (next_input(view.next))
                (name_fields(error, view.first_name, view.last_name, true))
                button type="submit" { "Create account" }
            }
        },
    )
}

pub(super) fn name_fields(
    error: Option<&FieldError>,
    first: &str,
    last: &str,
    autofocus: bool,
) -> Markup {
    html! {
        label for="first_name" { "First name" }
        input id="first_name" name="first_name" type="text" value=(first) autocomplete="given-name"
            maxlength="127" required autofocus[autofocus]
            aria-invalid=[described_by(error, "first_name").map(|_| "true")]
            aria-describedby=[described_by(error, "first_name")];
        (field_error(error, "first_name"))
        label for="last_name" { "Last name " span class="optional" { "(optional)" } }
        input id="last_name" name="last_name" type="text" value=(last) autocomplete="family-name"
            maxlength="127"
            aria-invalid=[described_by(error, "last_name").map(|_| "true")]
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

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
