use maud::{Markup, html};

use super::{Chrome, layout};

/// A page with one message and a way onward (start again, go home).
pub fn message_page(chrome: &Chrome, title: &str, message: &str, link: (&str, &str)) -> Markup {
    layout(
        chrome,
        title,
        false,
        html! {
            h1 { (title) }
            p class="banner error" role="alert" { (message) }
            a class="button primary" href=(link.0) { (link.1) }
        },
    )
}

pub fn not_found_page(chrome: &Chrome) -> Markup {
    let t = chrome.lang;
    message_page(
        chrome,
        t.text("status.not_found.title"),
        t.text("status.not_found.message"),
        ("/", t.text("link.home")),
    )
}
