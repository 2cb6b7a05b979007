//! The form that takes the code mailed to an address being added.

use maud::{Markup, html};

use super::login::code_field;
use super::{Chrome, FieldError, TimeStyle, banner, layout, moment};
use crate::storage::ChallengeInfo;

pub fn address_code_page(
    chrome: &Chrome,
    info: &ChallengeInfo,
    error: Option<&FieldError>,
) -> Markup {
    let t = chrome.lang;
    layout(
        chrome,
        t.text("address.title"),
        false,
        html! {
            h1 { (t.text("address.title")) }
            p class="lead" {
                (t.rich("address.sent_to", &[("email", html! { strong { (info.email) } })]))
                " "
                (t.rich("address.expires", &[("time", moment(t, info.expires_at, TimeStyle::Clock))]))
            }
            (banner(error))
            form method="post" action="/account/emails/verify" novalidate {
                input type="hidden" name="challenge" value=(info.id.as_str());
                (code_field(t, error))
                button type="submit" class="primary" { (t.text("address.submit")) }
            }
            div class="more" {
                a href="/" { (t.text("address.back")) }
            }
        },
    )
}
