//! The pages' surface: the browser routes, grouped by resource, each handler
//! returning `Result<Response, PageError>`.

mod account;
mod auth;
mod error;
mod home;
mod login;

pub use auth::respond as check_session;
pub use error::{PageError, chrome, read_form};

use poem::{Route, get, post};

/// Adds the page routes to `route`.
pub fn add(route: Route) -> Route {
    route
        .at("/", get(home::home))
        .at("/logout", post(home::logout))
        .at("/account/name", post(account::rename))
        .at("/account/sessions/end", post(account::end_session))
        .at(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .at("/login", get(login::show).post(login::start))
        .at("/login/verify", post(login::verify))
        .at("/login/resend", post(login::resend))
        .at("/auth/check", get(auth::check))
}
