//! `/`: the signed-in person's page — who they are, their name, where they are
//! signed in.

use maud::{Markup, html};

use super::login::name_fields;
use super::{Chrome, FieldError, banner, layout, notice};
use crate::storage::{SessionRecord, SessionSummary};

pub struct HomeView<'a> {
    pub session: &'a SessionRecord,
    pub sessions: &'a [SessionSummary],
    pub now: i64,
    pub notice: Option<&'a str>,
    pub error: Option<FieldError<'a>>,
    /// What was typed into the name form, shown again after an error.
    pub typed_name: Option<(&'a str, &'a str)>,
}

pub fn home_page(chrome: &Chrome, view: &HomeView) -> Markup {
    let session = view.session;
    let error = view.error.as_ref();
    let (first, last) = view.typed_name.unwrap_or((
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
        "Your account",
        false,
        html! {
            h1 { "Hello, " (session.first_name) }
            p class="lead" { "You are signed in as " strong { (session.email) } "." }
            (notice(view.notice))
            (banner(error))
            form method="post" action="/logout" {
                button type="submit" { "Sign out" }
            }

            h2 { "Your name" }
            form method="post" action="/account/name" novalidate {
                (name_fields(error, first, last, false))
                button type="submit" class="quiet" { "Save name" }
            }

            h2 { "Where you are signed in" }
            ul class="sessions" {
                @for s in view.sessions {
                    li {
                        p class="device" {
                            (device_label(s.user_agent.as_deref()))
                            @if s.public_id == session.public_id { " " span class="badge" { "This device" } }
                        }
                        p class="hint" {
                            "Signed in " (date(s.created_at)) " · last active " (ago(view.now, s.last_seen_at))
                        }
                        @if s.public_id != session.public_id {
                            form method="post" action="/account/sessions/end" {
                                input type="hidden" name="session" value=(s.public_id);
                                button type="submit" class="link" { "Sign out this device" }
                            }
                        }
                    }
                }
            }
            @if others > 0 {
                form method="post" action="/account/sessions/end-others" {
                    button type="submit" class="quiet" { "Sign out everywhere else" }
                }
            }
        },
    )
}

/// "Firefox on Linux", from the user agent the session was created with.
pub fn device_label(user_agent: Option<&str>) -> String {
    let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua)) else {
        return "Unknown device".into();
    };
    let known = |value: &str| !value.is_empty() && value != "UNKNOWN";
    match (known(parsed.name), known(parsed.os)) {
        (true, true) => format!("{} on {}", parsed.name, parsed.os),
        (true, false) => parsed.name.to_owned(),
        (false, true) => parsed.os.to_owned(),
        (false, false) => "Unknown device".into(),
    }
}

fn date(unix: i64) -> String {
    let format =
        time::macros::format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "some time ago".into())
}

fn ago(now: i64, then: i64) -> String {
    match now - then {
        ..=299 => "just now".into(),
        300..=3599 => format!("{} minutes ago", (now - then) / 60),
        3600..=7199 => "an hour ago".into(),
        7200..=86_399 => format!("{} hours ago", (now - then) / 3600),
        _ => date(then),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_get_readable_labels() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(Some(firefox)), "Firefox on Linux");
        assert!(
            device_label(Some(iphone)).contains("iPhone"),
            "{}",
            device_label(Some(iphone))
        );
        assert_eq!(device_label(None), "Unknown device");
        assert_eq!(device_label(Some("curl/8.0")), "HTTP Library");
        assert_eq!(device_label(Some("")), "Unknown device");
    }

    #[test]
    fn activity_times_read_naturally() {
        assert_eq!(ago(1000, 990), "just now");
        assert_eq!(ago(10_000, 10_000 - 600), "10 minutes ago");
        assert_eq!(ago(100_000, 100_000 - 3 * 3600), "3 hours ago");
        assert_eq!(date(0), "01 Jan 1970, 00:00 UTC");
    }
}
