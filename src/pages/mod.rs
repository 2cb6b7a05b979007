//! Every HTML page, rendered with maud (which escapes what it inserts). One layout,
//! a few small components; the pages work without JavaScript, and `/assets/app.js`
//! only adds to them (local times, the resend countdown, busy buttons, a word when the
//! CAPTCHA cannot load).
//!
//! Every word a person reads comes from the language catalogue in `chrome.lang`.

mod emails;
mod home;
mod login;
mod oidc;
mod status;

use maud::{DOCTYPE, Markup, html};

use crate::i18n::Language;

pub use emails::address_code_page;
pub use home::{AppEntry, HomeView, NEW_EMAIL_FIELD, Typed, device_label, home_page};
pub use login::{CodeView, LoginView, NameView, code_page, login_page, name_page};
pub use oidc::{ConsentView, LogoutView, consent_page, logout_page};
pub use status::{message_page, not_found_page};

/// What every page shows around its content.
pub struct Chrome<'a> {
    pub app_name: &'a str,
    /// `server.logo_url`, when set: shown in the header with the name as its alt text.
    pub logo_url: Option<&'a str>,
    /// Set when CAPTCHA is on; pages with a sign-in form load the widget.
    pub captcha: Option<Widget<'a>>,
    /// The language of the page, from `Accept-Language`.
    pub lang: Language,
}

/// The bot check a sign-in form shows: a third party's widget with its site key,
/// or ALTCHA's, served by doorcode itself.
#[derive(Debug, Clone, Copy)]
pub enum Widget<'a> {
    Turnstile(&'a str),
    Hcaptcha(&'a str),
    Altcha,
}

impl Widget<'_> {
    /// The domain a third party's widget comes from, which a content blocker or
    /// firewall must let through; `None` for ALTCHA, which comes from doorcode.
    fn host(self) -> Option<&'static str> {
        match self {
            Widget::Turnstile(_) => Some("challenges.cloudflare.com"),
            Widget::Hcaptcha(_) => Some("hcaptcha.com"),
            Widget::Altcha => None,
        }
    }
}

const TURNSTILE_SCRIPT: &str = "https://challenges.cloudflare.com/turnstile/v0/api.js";
/// hCaptcha's widget picks its language from `hl`.
const HCAPTCHA_SCRIPT: &str = "https://js.hcaptcha.com/1/api.js";

pub fn layout(chrome: &Chrome, title: &str, captcha: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(chrome.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · " (chrome.app_name) }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/app.js" defer {}
                @if captcha {
                    @match chrome.captcha {
                        Some(Widget::Turnstile(_)) => {
                            script src=(TURNSTILE_SCRIPT) async defer data-captcha-script {}
                        }
                        Some(Widget::Hcaptcha(_)) => {
                            script src={ (HCAPTCHA_SCRIPT) "?hl=" (chrome.lang.code()) } async defer data-captcha-script {}
                        }
                        Some(Widget::Altcha) => {
                            link rel="stylesheet" href="/assets/altcha/altcha.css";
                            script type="module" src="/assets/altcha/altcha.js" {}
                        }
                        None => {}
                    }
                }
            }
            body data-busy-label=(chrome.lang.text("page.busy")) {
                div class="card" {
                    header class="brand" {
                        @if let Some(logo) = chrome.logo_url {
                            img src=(logo) alt=(chrome.app_name) class="logo";
                        } @else {
                            (chrome.app_name)
                        }
                    }
                    main { (content) }
                }
            }
        }
    }
}

/// A message about one form field (or, with an empty `field`, the whole page),
/// shown and announced with it.
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

/// The message under a field, if the error belongs to it. `role=alert` has screen
/// readers announce it when the page loads with it.
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

/// `aria-invalid` for an input whose field has an error.
fn invalid(error: Option<&FieldError>, field: &str) -> Option<&'static str> {
    FieldError::for_field(error, field).map(|_| "true")
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

/// How app.js shows a [`moment`] in the reader's time zone (the names are the values of
/// its `data-local-time` attribute, which app.js maps to `Intl.DateTimeFormat` options).
#[derive(Clone, Copy)]
enum TimeStyle {
    /// Hours and minutes: when a code expires, minutes from now.
    Clock,
    /// Day, month, year, hours and minutes: when a device signed in.
    DateTime,
}

/// A moment as `<time datetime="2026-01-31T14:05:00Z">`. The server writes it in UTC,
/// saying so (`14:05 UTC`, `31 Jan 2026, 14:05 UTC`), which is what a page without
/// JavaScript shows; app.js rewrites every one in the reader's own time zone, formatted
/// by the browser for the page's language, so all the times on all pages read alike.
fn moment(t: Language, unix: i64, style: TimeStyle) -> Markup {
    let (text, style) = match style {
        TimeStyle::Clock => (t.fill("time.clock", &[("time", &clock_time(unix))]), "time"),
        TimeStyle::DateTime => (date_time(t, unix), "datetime"),
    };
    html! {
        time datetime=(machine_time(unix)) data-local-time=(style) { (text) }
    }
}

/// `22 Nov 2025, 14:05 UTC`, in the page's language.
fn date_time(t: Language, unix: i64) -> String {
    let Ok(when) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return t.text("time.some_time_ago").into();
    };
    let months: Vec<&str> = t.text("time.months").split_whitespace().collect();
    let month = months
        .get(usize::from(u8::from(when.month())) - 1)
        .copied()
        .unwrap_or_default();
    t.fill(
        "time.date",
        &[
            ("day", &when.day()),
            ("month", &month),
            ("year", &when.year()),
            ("time", &clock_time(unix)),
        ],
    )
}

/// `14:05`, the hours and minutes of a Unix time in UTC.
fn clock_time(unix: i64) -> String {
    let format = time::macros::format_description!("[hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// `2026-01-31T14:05:00Z`, for `<time datetime>` (ISO 8601, in UTC).
fn machine_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_time_elements_in_utc_that_app_js_localises() {
        let en = Language::english();
        let de = Language::find("de").unwrap();
        let at = 1_767_225_600 + 3 * 86_400 + 14 * 3600 + 5 * 60;
        assert_eq!(
            moment(en, at, TimeStyle::Clock).into_string(),
            r#"<time datetime="2026-01-04T14:05:00Z" data-local-time="time">14:05 UTC</time>"#
        );
        assert_eq!(
            moment(de, at, TimeStyle::DateTime).into_string(),
            r#"<time datetime="2026-01-04T14:05:00Z" data-local-time="datetime">4. Jan. 2026, 14:05 UTC</time>"#
        );
        assert_eq!(date_time(en, 0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(date_time(de, 1_741_000_000), "3. März 2025, 11:06 UTC");
    }

    #[test]
    fn every_catalogue_names_twelve_months() {
        for lang in Language::all() {
            assert_eq!(
                lang.text("time.months").split_whitespace().count(),
                12,
                "{lang}"
            );
        }
    }
}
