//! The OpenID Connect pages: consent ("Grafana wants to know…"), and the
//! confirmation before an app signs a person out.

use maud::{Markup, html};

use super::{Chrome, layout};

pub struct ConsentView<'a> {
    pub app: &'a str,
    pub email: &'a str,
    pub scopes: &'a [&'a str],
    /// The authorization request, sent again with the decision.
    pub params: &'a [(String, String)],
}

pub fn consent_page(chrome: &Chrome, view: &ConsentView) -> Markup {
    let t = chrome.lang;
    layout(
        chrome,
        t.text("consent.title"),
        false,
        html! {
            h1 { (t.fill("consent.heading", &[("app", &view.app)])) }
            p class="lead" { (t.fill("consent.lead", &[("app", &view.app), ("email", &view.email)])) }
            ul class="scopes" {
                li { (t.text("consent.scope.openid")) }
                @for scope in view.scopes {
                    @match *scope {
                        "email" => li { (t.text("consent.scope.email")) },
                        "profile" => li { (t.text("consent.scope.profile")) },
                        "groups" => li { (t.text("consent.scope.groups")) },
                        "offline_access" => li { (t.text("consent.scope.offline_access")) },
                        _ => {},
                    }
                }
            }
            form method="post" action="/oidc/consent" {
                @for (key, value) in view.params {
                    input type="hidden" name=(key) value=(value);
                }
                div class="actions" {
                    button type="submit" name="decision" value="allow" class="primary" { (t.text("consent.allow")) }
                    button type="submit" name="decision" value="deny" class="quiet" { (t.text("consent.deny")) }
                }
            }
            p class="hint" { (t.text("consent.withdraw_hint")) }
        },
    )
}

pub struct LogoutView<'a> {
    pub app: Option<&'a str>,
    pub params: &'a [(String, String)],
}

pub fn logout_page(chrome: &Chrome, view: &LogoutView) -> Markup {
    let t = chrome.lang;
    layout(
        chrome,
        t.text("logout.title"),
        false,
        html! {
            h1 { (t.text("logout.title")) }
            p class="lead" {
                @match view.app {
                    Some(app) => (t.fill("logout.lead_app", &[("app", &app), ("app_name", &chrome.app_name)])),
                    None => (t.fill("logout.lead", &[("app_name", &chrome.app_name)])),
                }
            }
            form method="post" action="/oidc/logout" {
                @for (key, value) in view.params {
                    input type="hidden" name=(key) value=(value);
                }
                button type="submit" class="primary" { (t.text("logout.confirm")) }
            }
        },
    )
}
