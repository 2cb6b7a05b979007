use maud::{Markup, html};

use super::{Chrome, layout};
use crate::storage::SessionRecord;

pub fn home_page(chrome: &Chrome, session: &SessionRecord) -> Markup {
    layout(
        chrome,
        "Your account",
        false,
        html! {
            h1 { "Hello, " (session.first_name) }
            p class="lead" { "You are signed in as " strong { (session.email) } "." }
            form method="post" action="/logout" {
                button type="submit" class="quiet" { "Sign out" }
            }
        },
    )
}
