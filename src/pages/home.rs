//! `/`: the signed-in person's page — who they are, their name, where they are
//! signed in.

use maud::{Markup, html};

use super::login::name_fields;
use super::{
    Chrome, FieldError, TimeStyle, banner, described_by, field_error, invalid, layout, moment,
    notice,
};
use crate::i18n::Language;
use crate::storage::{PasskeyRecord, SessionRecord, SessionSummary, UserEmail};

pub struct HomeView<'a> {
    pub session: &'a SessionRecord,
    pub sessions: &'a [SessionSummary],
    pub now: i64,
    pub notice: Option<&'a str>,
    pub error: Option<FieldError<'a>>,
    /// What was typed into a form, shown again after an error.
    pub typed: Typed<'a>,
    /// The person's addresses, primary first.
    pub emails: &'a [UserEmail],
    /// The apps the person allowed to sign them in.
    pub apps: &'a [AppEntry],
    /// `None` when passkeys are off.
    pub passkeys: Option<&'a [PasskeyRecord]>,
}

/// What was typed into the page's forms, shown again after an error.
#[derive(Debug, Default, Clone, Copy)]
pub struct Typed<'a> {
    /// First and last name.
    pub name: Option<(&'a str, &'a str)>,
    /// The address to add.
    pub email: Option<&'a str>,
}

/// The id of the field that takes an address to add.
pub const NEW_EMAIL_FIELD: &str = "new-email";

/// An app the person allowed, for "Apps you signed in to".
pub struct AppEntry {
    pub client_id: String,
    pub name: String,
    pub since: i64,
}

pub fn home_page(chrome: &Chrome, view: &HomeView) -> Markup {
    let t = chrome.lang;
    let session = view.session;
    let error = view.error.as_ref();
    let (first, last) = view.typed.name.unwrap_or((
        &session.first_name,
        session.last_name.as_deref().unwrap_or(""),
    ));
    let others = view
        .sessions
        .iter()
        .filter(|s| s.public_id != session.public_id)
        .count();
    layout(
        chrome,
        t.text("home.title"),
        false,
        html! {
            h1 { (t.fill("home.hello", &[("name", &session.first_name)])) }
            p class="lead" { (t.rich("home.signed_in_as", &[("email", html! { strong { (session.email) } })])) }
            @if !session.groups.is_empty() {
                p id="groups" {
                    (t.text("home.groups")) " "
                    @for (i, group) in session.groups.iter().enumerate() {
                        @if i > 0 { ", " }
                        span class="group" { (group.as_str()) }
                    }
                }
            }
            (notice(view.notice))
            (banner(error))
            form method="post" action="/logout" {
                button type="submit" class="primary" { (t.text("home.sign_out")) }
            }

            h2 { (t.text("home.your_name")) }
            form method="post" action="/account/name" novalidate {
                (name_fields(chrome, error, first, last, false))
                button type="submit" class="quiet" { (t.text("home.save_name")) }
            }

            h2 { (t.text("home.devices")) }
            ul class="sessions" {
                @for s in view.sessions {
                    li {
                        p class="device" {
                            (device_label(t, s.user_agent.as_deref()))
                            @if s.public_id == session.public_id { " " span class="badge" { (t.text("home.this_device")) } }
                        }
                        p class="hint" {
                            (t.rich("home.device_times", &[
                                ("created", moment(t, s.created_at, TimeStyle::DateTime)),
                                ("seen", last_seen(t, view.now, s.last_seen_at)),
                            ]))
                        }
                        @if s.public_id != session.public_id {
                            form method="post" action="/account/sessions/end" {
                                input type="hidden" name="session" value=(s.public_id);
                                button type="submit" class="link" { (t.text("home.end_session")) }
                            }
                        }
                    }
                }
            }
            @if others > 0 {
                form method="post" action="/account/sessions/end-others" {
                    button type="submit" class="quiet" { (t.text("home.end_others")) }
                }
            }
            (email_section(t, view.emails, error, view.typed.email.unwrap_or("")))
            @if let Some(passkeys) = view.passkeys {
                (passkey_section(t, passkeys))
            }
            @if !view.apps.is_empty() {
                h2 { (t.text("home.apps")) }
                ul class="sessions" id="apps" {
                    @for app in view.apps {
                        li {
                            p class="device" { (app.name) }
                            p class="hint" {
                                (t.rich("home.app_since", &[("when", moment(t, app.since, TimeStyle::DateTime))]))
                            }
                            form method="post" action="/account/apps/withdraw" {
                                input type="hidden" name="client_id" value=(app.client_id);
                                button type="submit" class="link" { (t.text("home.app_withdraw")) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The person's addresses, each with forms to make it primary and to remove it,
/// and the form that asks for a code to add one.
fn email_section(
    t: Language,
    emails: &[UserEmail],
    error: Option<&FieldError>,
    typed: &str,
) -> Markup {
    html! {
        h2 id="emails-heading" { (t.text("home.emails")) }
        p class="hint" { (t.text("home.emails_lead")) }
        ul class="sessions" id="emails" aria-labelledby="emails-heading" {
            @for address in emails {
                li {
                    p class="device" {
                        (address.email)
                        @if address.primary { " " span class="badge" { (t.text("home.email_primary")) } }
                    }
                    p class="hint" {
                        (t.rich("home.email_added_at", &[("created", moment(t, address.created_at, TimeStyle::DateTime))]))
                    }
                    @if !address.primary {
                        form method="post" action="/account/emails/primary" {
                            input type="hidden" name="email" value=(address.email);
                            button type="submit" class="link" { (t.text("home.email_make_primary")) }
                        }
                    }
                    @if emails.len() > 1 {
                        form method="post" action="/account/emails/remove" {
                            input type="hidden" name="email" value=(address.email);
                            button type="submit" class="link" { (t.text("home.email_remove")) }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/emails" novalidate {
            label for=(NEW_EMAIL_FIELD) { (t.text("home.email_add_label")) }
            input id=(NEW_EMAIL_FIELD) name="email" type="email" value=(typed)
                autocomplete="email" autocapitalize="none" spellcheck="false" inputmode="email"
                required maxlength="255"
                aria-invalid=[invalid(error, NEW_EMAIL_FIELD)]
                aria-describedby=[described_by(error, NEW_EMAIL_FIELD)];
            (field_error(error, NEW_EMAIL_FIELD))
            button type="submit" class="quiet" { (t.text("home.email_add")) }
        }
    }
}

/// The person's passkeys, each with forms to rename and remove it, and the button
/// that adds one (shown by app.js when the browser can make passkeys).
fn passkey_section(t: Language, passkeys: &[PasskeyRecord]) -> Markup {
    html! {
        h2 id="passkeys-heading" { (t.text("home.passkeys")) }
        p class="hint" { (t.text("home.passkeys_lead")) }
        @if !passkeys.is_empty() {
            ul class="sessions" id="passkeys" aria-labelledby="passkeys-heading" {
                @for passkey in passkeys {
                    @let field = format!("passkey-name-{}", passkey.id);
                    li {
                        p class="device" { (passkey.name) }
                        p class="hint" {
                            (t.rich("home.passkey_times", &[
                                ("created", moment(t, passkey.created_at, TimeStyle::DateTime)),
                                ("used", match passkey.last_used_at {
                                    Some(at) => moment(t, at, TimeStyle::DateTime),
                                    None => html! { (t.text("home.passkey_never_used")) },
                                }),
                            ]))
                        }
                        form method="post" action="/account/passkeys/rename" class="inline" {
                            input type="hidden" name="passkey" value=(passkey.id);
                            label for=(field) class="visually-hidden" { (t.text("home.passkey_name_label")) }
                            input id=(field) name="name" type="text" value=(passkey.name)
                                maxlength="64" required autocomplete="off";
                            button type="submit" class="quiet" { (t.text("home.passkey_rename")) }
                        }
                        form method="post" action="/account/passkeys/remove" {
                            input type="hidden" name="passkey" value=(passkey.id);
                            button type="submit" class="link" { (t.text("home.passkey_remove")) }
                        }
                    }
                }
            }
        }
        div class="passkey" data-passkey-add
            data-msg-busy=(t.text("passkey.busy"))
            data-msg-failed=(t.text("passkey.failed"))
            data-msg-cancelled=(t.text("passkey.cancelled"))
            data-msg-exists=(t.text("passkey.exists"))
            data-msg-unverified=(t.text("passkey.unverified"))
            data-msg-limited=(t.text("passkey.limited")) {
            button type="button" id="passkey-add" class="quiet" hidden { (t.text("home.passkey_add")) }
            p class="hint" data-passkey-unsupported { (t.text("home.passkey_needs_js")) }
            p class="passkey-status" role="status" aria-live="polite" {}
        }
    }
}

/// "Firefox on Linux", from the user agent the session was created with.
pub fn device_label(t: Language, user_agent: Option<&str>) -> String {
    let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua)) else {
        return t.text("device.unknown").into();
    };
    let known = |value: &str| !value.is_empty() && value != "UNKNOWN";
    match (known(parsed.name), known(parsed.os)) {
        (true, true) => t.fill(
            "device.browser_on_os",
            &[("browser", &parsed.name), ("os", &parsed.os)],
        ),
        (true, false) => parsed.name.to_owned(),
        (false, true) => parsed.os.to_owned(),
        (false, false) => t.text("device.unknown").into(),
    }
}

/// When a device was last active: "10 minutes ago" within the day (a `<time>` too, left
/// as it is by app.js), else the moment itself like every other time on the pages.
fn last_seen(t: Language, now: i64, then: i64) -> Markup {
    match ago(t, now, then) {
        Some(relative) => html! { time datetime=(super::machine_time(then)) { (relative) } },
        None => moment(t, then, TimeStyle::DateTime),
    }
}

/// "just now", "10 minutes ago", "3 hours ago"; `None` from a day on.
fn ago(t: Language, now: i64, then: i64) -> Option<String> {
    let text = match now - then {
        ..=299 => t.text("time.just_now").into(),
        300..=3599 => t.fill("time.minutes_ago", &[("n", &((now - then) / 60))]),
        3600..=7199 => t.text("time.an_hour_ago").into(),
        7200..=86_399 => t.fill("time.hours_ago", &[("n", &((now - then) / 3600))]),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_get_readable_labels() {
        let en = Language::english();
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(en, Some(firefox)), "Firefox on Linux");
        assert!(
            device_label(en, Some(iphone)).contains("iPhone"),
            "{}",
            device_label(en, Some(iphone))
        );
        assert_eq!(device_label(en, None), "Unknown device");
        assert_eq!(device_label(en, Some("curl/8.0")), "HTTP Library");
        assert_eq!(device_label(en, Some("")), "Unknown device");
        let de = Language::find("de").unwrap();
        assert_eq!(device_label(de, Some(firefox)), "Firefox unter Linux");
        assert_eq!(device_label(de, None), "Unbekanntes Gerät");
    }

    #[test]
    fn activity_times_read_naturally() {
        let en = Language::english();
        assert_eq!(ago(en, 1000, 990).as_deref(), Some("just now"));
        assert_eq!(
            ago(en, 10_000, 10_000 - 600).as_deref(),
            Some("10 minutes ago")
        );
        assert_eq!(
            ago(en, 100_000, 100_000 - 3 * 3600).as_deref(),
            Some("3 hours ago")
        );
        assert_eq!(ago(en, 100_000, 0), None);
        let de = Language::find("de").unwrap();
        assert_eq!(
            ago(de, 10_000, 10_000 - 600).as_deref(),
            Some("vor 10 Minuten")
        );
    }

    #[test]
    fn last_activity_is_a_time_element_relative_today_and_a_moment_before() {
        let en = Language::english();
        let now = 1_767_225_600;
        assert_eq!(
            last_seen(en, now, now - 600).into_string(),
            r#"<time datetime="2025-12-31T23:50:00Z">10 minutes ago</time>"#
        );
        assert_eq!(
            last_seen(en, now, now - 2 * 86_400).into_string(),
            r#"<time datetime="2025-12-30T00:00:00Z" data-local-time="datetime">30 Dec 2025, 00:00 UTC</time>"#
        );
    }
}
