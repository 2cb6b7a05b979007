//! Every HTML page, rendered with maud (which escapes what it inserts). One layout,
//! a few small components; the pages work without JavaScript.

mod home;
mod login;
mod status;

use maud::{DOCTYPE, Markup, html};

pub use home::{HomeView, home_page};
pub use login::{CodeView, LoginView, NameView, code_page, login_page, name_page};
pub use status::{message_page, not_found_page};

/// What every page shows around its content.
pub struct Chrome<'a> {
    pub app_name: &'a str,
    /// Set when CAPTCHA is on; pages with a sign-in form load the widget.
    pub turnstile_site_key: Option<&'a str>,
}

const TURNSTILE_SCRIPT: &str = "https://challenges.cloudflare.com/turnstile/v0/api.js";

pub fn layout(chrome: &Chrome, title: &str, turnstile: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · " (chrome.app_name) }
                link rel="stylesheet" href="/assets/style.css";
                @if turnstile && chrome.turnstile_site_key.is_some() {
                    script src=(TURNSTILE_SCRIPT) async defer {}
                }
            }
            body {
                main class="card" {
                    p class="brand" { (chrome.app_name) }
                    (content)
                }
            }
        }
    }
}

/// A message about one form field, shown under it and announced with it.
pub struct FieldError<'a> {
    pub field: &'a str,
    pub message: String,
}

impl FieldError<'_> {
    fn for_field(error: Option<&Self>, field: &str) -> Option<String> {
        error
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
    }
}

/// `id` of the message element for `field`, for `aria-describedby`.
fn error_id(field: &str) -> String {
    format!("{field}-error")
}

/// The message under a field, if the error belongs to it.
fn field_error(error: Option<&FieldError>, field: &str) -> Markup {
    html! {
        @if let Some(message) = FieldError::for_field(error, field) {
            p class="field-error" id=(error_id(field)) role="alert" { (message) }
        }
    }
}

/// `aria-describedby` value for an input whose field has an error.
fn described_by(error: Option<&FieldError>, field: &str) -> Option<String> {
    FieldError::for_field(error, field).map(|_| error_id(field))
}

/// A page-wide message (not tied to a field).
fn banner(error: Option<&FieldError>) -> Markup {
    html! {
        @if let Some(error) = error.filter(|e| e.field.is_empty()) {
            p class="banner error" role="alert" { (error.message) }
        }
    }
}

fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p class="banner notice" role="status" { (text) }
        }
    }
}
